//! Every ERP call an invocation made, for its metrics: the adapters record, the handler
//! drains once per invocation (Lambda runs one invocation at a time per instance).

use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallSample {
    pub latency: Duration,
    pub failed: bool,
}

#[derive(Debug, Default)]
pub struct CallLog(Mutex<Vec<CallSample>>);

impl CallLog {
    pub fn record(&self, latency: Duration, failed: bool) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(CallSample { latency, failed });
    }

    /// The calls recorded since the last drain.
    pub fn drain(&self) -> Vec<CallSample> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

//! One live line per step: its title, then its count updated in place on a terminal.

use std::io::{IsTerminal, Write};
use std::time::Instant;

pub struct Progress {
    step: usize,
    total: usize,
    started: Instant,
    tty: bool,
}

impl Progress {
    pub fn new(total: usize) -> Self {
        Self {
            step: 0,
            total,
            started: Instant::now(),
            tty: std::io::stderr().is_terminal(),
        }
    }

    pub fn step(&mut self, title: &str) {
        self.step += 1;
        self.started = Instant::now();
        eprintln!("==> [{}/{}] {title}", self.step, self.total);
    }

    pub fn tick(&self, done: usize, of: usize) {
        if self.tty {
            eprint!("\r    {done}/{of}");
            let _ = std::io::stderr().flush();
        }
    }

    pub fn done(&self, summary: &str) {
        let clear = if self.tty { "\r\x1b[K" } else { "" };
        eprintln!("{clear}    {summary} ({:.1} s)", self.started.elapsed().as_secs_f64());
    }
}

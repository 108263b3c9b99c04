//! An HTTP answer as the tests read it, whatever payload format carried it.

use std::collections::HashMap;

use serde_json::Value;

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    /// Header names lowercased.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }

    /// Asserts an RFC 9457 problem document with `status`, and returns it.
    pub fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "{}", self.body);
        assert_eq!(self.header("content-type"), Some("application/problem+json"));
        let problem = self.json();
        assert_eq!(problem["status"], status);
        assert!(problem["title"].is_string() && problem["type"].is_string() && problem["detail"].is_string());
        problem
    }

    /// The fields a 400 validation problem names, in order.
    pub fn problem_fields(&self) -> Vec<String> {
        let problem = self.problem(400);
        assert_eq!(problem["type"], "urn:problem-type:validation-error");
        problem["errors"]
            .as_array()
            .expect("a validation problem lists errors")
            .iter()
            .map(|e| e["field"].as_str().expect("field").to_owned())
            .collect()
    }
}

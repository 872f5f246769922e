//! The harness's output: one line per check (`PASS|FAIL <check>: <reason>`)
//! or, with `--format json`, one JSON document
//! `{"checks": [{"check", "status", "reason"}], "summary": {...}}`.
//! Text from the connector or the fixtures is escaped for the terminal.

use psa_host::escape::for_terminal as t;
use serde::Serialize;

/// One check's outcome.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    pub check: String,
    pub status: &'static str,
    pub reason: String,
}

impl Outcome {
    pub fn pass(check: &str, reason: impl Into<String>) -> Outcome {
        Outcome { check: check.to_string(), status: "PASS", reason: reason.into() }
    }
    pub fn fail(check: &str, reason: impl Into<String>) -> Outcome {
        Outcome { check: check.to_string(), status: "FAIL", reason: reason.into() }
    }
    pub fn passed(&self) -> bool {
        self.status == "PASS"
    }
}

/// The mutation run's figures.
#[derive(Clone, Debug, Default, Serialize)]
pub struct MutationFigures {
    pub tried: u32,
    pub typed_errors: u32,
    pub completed: u32,
    pub traps: u32,
    pub hangs: u32,
    pub other: u32,
    /// Each mutated replay (JSON report only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<MutationRun>,
}

/// One mutated replay: which answer, which mutation, how it ended.
#[derive(Clone, Debug, Serialize)]
pub struct MutationRun {
    /// The exchange file whose answer was mutated.
    pub exchange: String,
    pub mutation: &'static str,
    /// `typed-error`, `completed`, `trap`, `hang` or `other`.
    pub ending: &'static str,
    /// The connector's error kind for a typed error (`protocol`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<&'static str>,
}

#[derive(Serialize)]
struct Summary<'a> {
    passed: usize,
    failed: usize,
    mutations: &'a MutationFigures,
}

/// Prints the report; `json` selects the format.
pub fn print(outcomes: &[Outcome], figures: &MutationFigures, json: bool) {
    let passed = outcomes.iter().filter(|o| o.passed()).count();
    let failed = outcomes.len() - passed;
    if json {
        let doc = serde_json::json!({
            "checks": outcomes,
            "summary": Summary { passed, failed, mutations: figures },
        });
        println!("{doc}");
        return;
    }
    for o in outcomes {
        println!("{} {}: {}", o.status, o.check, t(&o.reason));
    }
    println!(
        "{passed} passed, {failed} failed; mutations: {} tried, {} typed errors, {} completed, {} traps, {} hangs, {} other",
        figures.tried, figures.typed_errors, figures.completed, figures.traps, figures.hangs, figures.other
    );
}

//! Several checks over one costly fixture (a seeded pipeline), each reported on its own:
//! a check that fails does not hide the ones after it.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

/// Checks run in order over one fixture; [`Checks::finish`] fails the test naming every
/// check that failed, with its message.
#[derive(Debug, Default)]
pub struct Checks {
    failed: Vec<String>,
}

impl Checks {
    /// Run `check` to its end or its first failed assertion.
    pub async fn run(&mut self, name: &str, check: impl Future<Output = ()>) {
        match AssertUnwindSafe(check).catch_unwind().await {
            Ok(()) => eprintln!("check {name}: ok"),
            Err(panic) => {
                let message = message_of(panic.as_ref());
                eprintln!("check {name}: FAILED: {message}");
                self.failed.push(format!("{name}: {message}"));
            }
        }
    }

    /// Fail if any check did.
    pub fn finish(self) {
        assert!(
            self.failed.is_empty(),
            "{} check(s) failed:\n{}",
            self.failed.len(),
            self.failed.join("\n")
        );
    }
}

fn message_of(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_check_does_not_stop_the_next_and_fails_the_end() {
        let mut checks = Checks::default();
        checks
            .run("first", async { panic!("one is not two") })
            .await;
        let mut ran = false;
        checks.run("second", async { ran = true }).await;
        assert!(ran);
        let end = std::panic::catch_unwind(move || checks.finish());
        let message = message_of(end.unwrap_err().as_ref());
        assert!(message.contains("first: one is not two"), "{message}");
        assert!(!message.contains("second"), "{message}");
    }
}

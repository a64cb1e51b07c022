//! A CPU hog: busy-loop processes that keep cores saturated while a test runs, so the fault
//! suite proves itself on a loaded machine, not only an idle one. Each process ends by itself
//! after a bound (should the test die without dropping the hog) and is killed when the hog is
//! dropped.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct CpuHog {
    children: Vec<Child>,
}

impl CpuHog {
    /// Starts `processes` busy loops, each ending by itself after `at_most`.
    pub fn start(processes: usize, at_most: Duration) -> CpuHog {
        let children = (0..processes)
            .filter_map(|_| {
                Command::new("python3")
                    .arg("-c")
                    .arg(format!(
                        "import time\nend = time.monotonic() + {}\nwhile time.monotonic() < end: pass",
                        at_most.as_secs().max(1)
                    ))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .ok()
            })
            .collect();
        CpuHog { children }
    }

    /// How many busy loops are running.
    pub fn processes(&self) -> usize {
        self.children.len()
    }
}

impl Drop for CpuHog {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

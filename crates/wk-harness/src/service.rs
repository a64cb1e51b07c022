//! A child process with its log: started (and started again after a kill, as a crash and a
//! restart would), measured from /proc, and killed when dropped.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use anyhow::Context as _;

pub struct Service {
    name: String,
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_remove: Vec<OsString>,
    dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

impl Service {
    /// A service that runs `program` in `dir`, logging (stdout and stderr) to `dir/<log>`.
    /// Not started yet: add its arguments and environment, then [`Service::start`].
    pub fn new(name: &str, program: impl Into<PathBuf>, dir: &Path, log: &str) -> Service {
        Service {
            name: name.to_owned(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            env_remove: Vec::new(),
            dir: dir.to_path_buf(),
            log: dir.join(log),
            child: None,
        }
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Service {
        self.args.push(arg.into());
        self
    }

    pub fn args<I: Into<OsString>>(mut self, args: impl IntoIterator<Item = I>) -> Service {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Service {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn env_remove(mut self, key: impl Into<OsString>) -> Service {
        self.env_remove.push(key.into());
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Starts it (again, after [`Service::kill`]), appending to its log.
    pub fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("opening {}", self.log.display()))?;
        let mut command = Command::new(&self.program);
        for key in &self.env_remove {
            command.env_remove(key);
        }
        let child = command
            .args(&self.args)
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} ({})", self.name, self.program.display()))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL, as a crash would, and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and waits for its exit status.
    pub fn terminate(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        child.wait().ok()
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.as_mut()?.try_wait().ok().flatten()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The last 4,000 bytes of its log.
    pub fn log_tail(&self) -> String {
        let text = self.log();
        let mut start = text.len().saturating_sub(4000);
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text[start..].to_owned()
    }

    /// Resident set size in KiB, from /proc.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let pid = self.pid().context("process not running")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS in /proc/PID/status")
    }

    /// CPU time used so far (user and system, every thread), from /proc.
    pub fn cpu_seconds(&self) -> anyhow::Result<f64> {
        cpu_seconds_of(self.pid().context("process not running")?)
    }
}

/// CPU time process `pid` has used so far (user and system, every thread), from /proc: a
/// service's, or the measuring process's own (`std::process::id()`).
pub fn cpu_seconds_of(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // After the command name in parentheses: utime and stime are fields 14 and 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("no command name in /proc/PID/stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks = |index: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(index)
            .context("short /proc/PID/stat")?
            .parse::<f64>()?)
    };
    // USER_HZ is 100 on every Linux this runs on (the kernel's ABI since 2.6).
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

//! A real SMTP server (aiosmtpd, `tests/support/smtp_sink.py`) on a free loopback port, storing
//! each accepted message as a file that tests parse with `mailparse`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use tempfile::TempDir;

pub struct SmtpSink {
    pub port: u16,
    dir: TempDir,
    child: Option<Child>,
}

/// One received email, parsed.
#[derive(Debug)]
pub struct Email {
    pub envelope_to: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
    /// When the server stored it.
    pub received: std::time::SystemTime,
}

/// Starts the sink storing into `dir` on `port` (0: a free one); returns it and its port.
fn spawn(dir: &std::path::Path, port: u16) -> (Child, u16) {
    let script = crate::workspace_root().join("tests/support/smtp_sink.py");
    let mut child = Command::new(crate::python())
        .arg(script)
        .arg(dir)
        .arg(port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the SMTP sink");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let port = line
        .trim()
        .strip_prefix("PORT ")
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("SMTP sink said {line:?}"));
    (child, port)
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let (child, port) = spawn(dir.path(), 0);
        SmtpSink {
            port,
            dir,
            child: Some(child),
        }
    }

    /// Kills the server (SIGKILL): connections to its port are refused until `start_again`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port, keeping what it stored before.
    pub fn start_again(&mut self) {
        self.stop();
        let (child, _) = spawn(self.dir.path(), self.port);
        self.child = Some(child);
    }

    /// Every message received so far, in arrival order.
    pub fn emails(&self) -> Vec<Email> {
        let mut paths: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|path| {
                let received = std::fs::metadata(path).and_then(|m| m.modified()).unwrap();
                parse(&std::fs::read(path).unwrap(), received)
            })
            .collect()
    }

    /// The Message-ID of every message received so far, with when it was stored (reads only
    /// the headers: cheap enough to poll thousands of messages).
    pub fn message_ids(&self) -> Vec<(String, std::time::SystemTime)> {
        std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "eml"))
            .filter_map(|path| {
                let raw = std::fs::read(&path).ok()?;
                let (headers, _) = mailparse::parse_headers(&raw).ok()?;
                use mailparse::MailHeaderMap as _;
                let id = headers.get_first_value("Message-ID")?;
                let received = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
                Some((id, received))
            })
            .collect()
    }

    /// The emails received by `address`, in arrival order.
    pub fn emails_to(&self, address: &str) -> Vec<Email> {
        self.emails()
            .into_iter()
            .filter(|email| email.envelope_to == address)
            .collect()
    }
}

fn parse(raw: &[u8], received: std::time::SystemTime) -> Email {
    use mailparse::MailHeaderMap;
    let mail = mailparse::parse_mail(raw).unwrap();
    let header = |name: &str| mail.headers.get_first_value(name).unwrap_or_default();
    let mut text = String::new();
    let mut html = String::new();
    for part in mail.parts() {
        match part.ctype.mimetype.as_str() {
            "text/plain" => text = part.get_body().unwrap(),
            "text/html" => html = part.get_body().unwrap(),
            _ => {}
        }
    }
    Email {
        envelope_to: header("X-Envelope-To"),
        subject: header("Subject"),
        message_id: header("Message-ID"),
        text,
        html,
        received,
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop();
    }
}

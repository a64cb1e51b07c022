pub mod board;
pub mod format;
pub mod password;
pub mod session;
pub mod throttle;

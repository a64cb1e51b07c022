//! The `watchkeeper` binary: command line, wiring and process lifecycle. `serve` runs the api
//! and/or the dispatcher, `send` is a field office's client, `check-config` validates a file,
//! `hash-token` prints the hash to put in the configuration for an office token, and
//! `hash-password` the hash of a web-console password.

mod check_in;
mod config;
mod headcount;
mod health;
mod officer;
mod offices;
mod send;
mod serve;
mod shutdown;
mod silences;
mod telemetry;

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// `EX_USAGE`: the configuration or the command line is wrong.
const EXIT_USAGE: u8 = 64;

#[derive(Parser)]
#[command(
    name = "watchkeeper",
    version,
    about = "24/7 operations-centre alerting"
)]
struct Cli {
    /// Where the api is and who is calling, for the client commands.
    #[command(flatten)]
    connection: officer::Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Role {
    /// The gRPC api and the dispatcher in one process.
    All,
    /// Only the gRPC api (scale behind a load balancer).
    Api,
    /// Only the dispatcher (scale through the consumer group).
    Dispatcher,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::All => "all",
            Role::Api => "api",
            Role::Dispatcher => "dispatcher",
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run Watchkeeper.
    Serve {
        #[arg(long, env = "WATCHKEEPER_CONFIG")]
        config: PathBuf,
        #[arg(long, value_enum, default_value_t = Role::All)]
        role: Role,
    },
    /// Submit one alert as a field office.
    Send(Box<send::SendArgs>),
    /// Check in as a field office (its scheduled "we are alive and talking").
    CheckIn(check_in::CheckInArgs),
    /// Validate a configuration file and report every error with its field.
    CheckConfig { file: PathBuf },
    /// Print the SHA-256 of an office token (read from standard input) for `token_sha256`.
    HashToken,
    /// Print the argon2id hash of a web-console password (read from standard input, one line)
    /// for `password_argon2`.
    HashPassword,
    /// Duty officers: the offices' check-in watches (list, pause, resume).
    #[command(subcommand)]
    Offices(offices::OfficesCommand),
    /// Duty officers: silences and maintenance windows (list, create, preview, expire).
    #[command(subcommand)]
    Silences(silences::SilencesCommand),
    /// Duty officers: staff headcounts (start, list, show, answer, close, export).
    #[command(subcommand)]
    Headcount(headcount::HeadcountCommand),
    /// Duty officers: act on and read alerts (ack, resolve, note, show, list, watch).
    #[command(flatten)]
    Officer(officer::OfficerCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { file } => match config::load(&file) {
            Ok(config) => {
                if let Err(problems) = config::check_roster(&config) {
                    eprintln!("{problems}");
                    return ExitCode::from(EXIT_USAGE);
                }
                eprintln!(
                    "{}: ok ({} offices, {} consoles)",
                    file.display(),
                    config.offices.len(),
                    config.consoles.len()
                );
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("{}: {error}", file.display());
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::HashToken => {
            let mut token = String::new();
            if let Err(error) = std::io::stdin().read_to_string(&mut token) {
                eprintln!("cannot read the token from standard input: {error}");
                return ExitCode::from(EXIT_USAGE);
            }
            let token = token.trim();
            if token.len() < 16 {
                eprintln!(
                    "refusing a token shorter than 16 characters; try `openssl rand -hex 32`"
                );
                return ExitCode::from(EXIT_USAGE);
            }
            let hash = wk_api::auth::token_hash(token);
            let mut stdout = std::io::stdout().lock();
            let _ = std::io::Write::write_all(
                &mut stdout,
                format!("{}\n", hex::encode(hash)).as_bytes(),
            );
            ExitCode::SUCCESS
        }
        Command::HashPassword => {
            let mut password = String::new();
            if let Err(error) = std::io::stdin().read_line(&mut password) {
                eprintln!("cannot read the password from standard input: {error}");
                return ExitCode::from(EXIT_USAGE);
            }
            let password = password.trim_end_matches(['\r', '\n']);
            if password.chars().count() < 12 {
                eprintln!(
                    "refusing a password shorter than 12 characters; a passphrase of four words is easier to type at 3 a.m."
                );
                return ExitCode::from(EXIT_USAGE);
            }
            match wk_web::password::hash(password) {
                Ok(hash) => {
                    let mut stdout = std::io::stdout().lock();
                    let _ = std::io::Write::write_all(&mut stdout, format!("{hash}\n").as_bytes());
                    ExitCode::SUCCESS
                }
                Err(error) => {
                    eprintln!("cannot hash the password: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Send(args) => runtime().map_or(ExitCode::FAILURE, |rt| {
            rt.block_on(send::run(cli.connection, *args))
        }),
        Command::CheckIn(args) => runtime().map_or(ExitCode::FAILURE, |rt| {
            rt.block_on(check_in::run(cli.connection, args))
        }),
        Command::Offices(command) => runtime().map_or(ExitCode::FAILURE, |rt| {
            rt.block_on(offices::run(cli.connection, command))
        }),
        Command::Silences(command) => runtime().map_or(ExitCode::FAILURE, |rt| {
            rt.block_on(silences::run(cli.connection, command))
        }),
        Command::Headcount(command) => runtime().map_or(ExitCode::FAILURE, |rt| {
            rt.block_on(headcount::run(cli.connection, command))
        }),
        Command::Officer(command) => runtime().map_or(ExitCode::FAILURE, |rt| {
            rt.block_on(officer::run(cli.connection, command))
        }),
        Command::Serve { config: path, role } => {
            // Invalid configuration fails before any port is bound.
            let config = match config::load(&path) {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("{}: {error}", path.display());
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let telemetry = match telemetry::init(config.otlp.as_ref(), role.name()) {
                Ok(telemetry) => telemetry,
                Err(error) => {
                    eprintln!("cannot set up logging: {error}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let Some(rt) = runtime() else {
                return ExitCode::FAILURE;
            };
            let code = match rt.block_on(serve::run(config, role)) {
                Ok(()) => 0,
                Err(error) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "watchkeeper stopped on an error"
                    );
                    1
                }
            };
            telemetry.shutdown();
            // The drain is done. librdkafka handles may still block in their destructors when
            // the broker is unreachable; they hold nothing that is not already safe, so exit
            // without waiting for them.
            std::process::exit(code)
        }
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            None
        }
    }
}

//! The command line (clap derive) and its dispatch. Configured like the
//! function: `TABLE_NAME`, `API_KEYS_PARAMETER` and the standard AWS
//! variables, `--table` / `--parameter` over them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::admin::{AdminError, check, exit, export, import, keys};
use crate::startup::tls::TlsRoots;
use crate::startup::{config, init};
use crate::store::customers::Customers;
use crate::store::dynamo::Store;

#[derive(Debug, Parser)]
#[command(
    name = "customers-admin",
    version,
    about = "Operate customers-api: API keys, the email invariant, import and export",
    after_help = "Exit status: 0 done (check: clean), 1 findings (check) or failed lines \
                  (import, export), 2 the command could not run."
)]
pub struct Cli {
    /// The DynamoDB table [env: TABLE_NAME]
    #[arg(long, global = true, env = "TABLE_NAME", hide_env = true)]
    table: Option<String>,
    /// The SSM parameter holding the key hashes [env: API_KEYS_PARAMETER]
    #[arg(long, global = true, env = "API_KEYS_PARAMETER", hide_env = true)]
    parameter: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// API keys: only their SHA-256 is stored, in the SSM parameter
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Scan the table for violations of the email invariant and unreadable items
    Check(CheckArgs),
    /// Create customers from a JSONL file through the same code as POST
    Import(ImportArgs),
    /// Write every customer as JSONL (the GET view), to stdout or a file
    Export(ExportArgs),
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Make a new key, print it once on stdout, store only its SHA-256
    Create {
        /// The key's id: 1-64 of letters, digits, `_` and `-`
        #[arg(long)]
        id: String,
        /// Comma-separated: customers:read, customers:write
        #[arg(long)]
        scopes: String,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// List the keys' ids and scopes (never their hashes)
    List {
        /// One JSON document instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Remove the key with this id
    Revoke {
        id: String,
        #[command(flatten)]
        lock: LockArgs,
    },
}

#[derive(Debug, Args)]
struct LockArgs {
    /// How long to wait for another keys command's lock, in seconds
    #[arg(long, default_value_t = 30)]
    lock_wait: u64,
}

#[derive(Debug, Args)]
struct CheckArgs {
    /// Parallel scan segments
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    segments: u32,
    /// Repair what is provably safe to repair (conditional transactions)
    #[arg(long)]
    fix: bool,
    /// A JSON report on stdout
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// One customer per line, as POST takes it (id, createdAt, updatedAt kept)
    file: PathBuf,
    /// Lines in flight at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    concurrency: u32,
    /// Write each failed line (number, code, errors) to this JSONL file
    #[arg(long)]
    report: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct ExportArgs {
    /// Write to this file instead of stdout
    #[arg(long)]
    out: Option<PathBuf>,
    /// Parallel scan segments
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=256))]
    segments: u32,
}

fn named(value: Option<String>, flag: &str, var: &str) -> Result<String, AdminError> {
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(AdminError::Config(format!(
            "no {flag}: pass --{flag} or set {var}"
        ))),
    }
}

/// The SDK configuration the function builds, with the operator's
/// timeouts: longer than a request's, and more attempts under throttling.
async fn sdk() -> Result<aws_config::SdkConfig, AdminError> {
    let (attempt, operation) = config::sdk_timeouts(&|k| std::env::var(k).ok(), 10_000, 60_000)
        .map_err(|e| AdminError::Config(e.to_string()))?;
    Ok(init::sdk_config_with(attempt, operation, 10, TlsRoots::System).await)
}

/// Runs the command; returns the process exit status.
pub async fn run(cli: Cli) -> u8 {
    match dispatch(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("customers-admin: {e}");
            exit::ERROR
        }
    }
}

async fn dispatch(cli: Cli) -> Result<u8, AdminError> {
    let table = || named(cli.table.clone(), "table", "TABLE_NAME");
    let parameter = || named(cli.parameter.clone(), "parameter", "API_KEYS_PARAMETER");
    match cli.command {
        Command::Keys { command } => {
            let param = parameter()?;
            let ssm = aws_sdk_ssm::Client::new(&sdk().await?);
            let ps = keys::Parameter::new(ssm, param);
            match command {
                KeysCommand::Create { id, scopes, lock } => {
                    let key = ps.create(&id, &scopes, lock.lock_wait).await?;
                    println!("{key}");
                    Ok(exit::OK)
                }
                KeysCommand::List { json } => ps.list(json).await.map(|()| exit::OK),
                KeysCommand::Revoke { id, lock } => {
                    ps.revoke(&id, lock.lock_wait).await.map(|()| exit::OK)
                }
            }
        }
        Command::Check(a) => {
            let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk().await?), table()?);
            let opts = check::Options {
                segments: a.segments,
                fix: a.fix,
            };
            check::command(&store, &opts, a.json).await
        }
        Command::Import(a) => {
            let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk().await?), table()?);
            let opts = import::Options {
                concurrency: a.concurrency as usize,
                report: a.report,
            };
            import::command(&Customers::new(store), &a.file, &opts).await
        }
        Command::Export(a) => {
            let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk().await?), table()?);
            export::command(&store, a.out.as_deref(), a.segments).await
        }
    }
}

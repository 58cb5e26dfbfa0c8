//! The `muster` binary: `serve` runs the platform; the other commands
//! administer a store directly (the same `--data`/`--config` as `serve`).

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

mod ingest;
mod playbook;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use muster_core::{OrgKind, Role};
use muster_server::bootstrap::{self, Credential};
use muster_server::{AppState, Config};
use muster_store::{NewAuditEntry, NewOrganisation, NewToken, NewUser, Store};

#[derive(Parser)]
#[command(
    name = "muster",
    version,
    about = "Joint cyber-incident coordination and response platform",
    after_help = "Start here:  muster serve --demo   (then open the printed URL)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct StoreArgs {
    /// Configuration file (TOML); MUSTER_* environment variables override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (the SQLite store lives here) [default: ./muster-data]
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (API, web UI, TAXII, intake).
    #[command(after_help = "Example:\n  muster serve --demo --listen 127.0.0.1:8080 --data ./muster-data")]
    Serve {
        #[command(flatten)]
        store: StoreArgs,
        /// Address to listen on [default: 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<std::net::SocketAddr>,
        /// Load the demo data set (organisations, users, a trust circle) if not there yet.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    #[command(after_help = "Example:\n  MUSTER_DATABASE_URL=postgres://muster@db/muster muster migrate")]
    Migrate {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Manage organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Read alert files or folders (plain or .gz) into a running server or the local store.
    #[command(
        after_help = "Examples:\n  muster ingest --server http://127.0.0.1:8080 --token \"$TOKEN\" /var/log/suricata/eve.json\n  \
                            muster ingest --org cert-de --format shadowserver reports/\n\
                            Ends with: read N, created A, duplicates D, rejected R"
    )]
    Ingest {
        #[command(flatten)]
        store: StoreArgs,
        /// auto, eve, wazuh, ecs, cef, leef, intelmq, shadowserver; or sigma-events for raw log
        /// events (JSON) run through Sigma rules
        #[arg(long, default_value = "auto")]
        format: String,
        /// Sigma rule folder for --format sigma-events on the local store (default: [detection] sigma_rules).
        #[arg(long)]
        rules: Option<PathBuf>,
        /// What the events are, for Sigma rule selection: product=zeek,service=dns,category=…
        #[arg(long)]
        logsource: Option<String>,
        /// Base URL of a running Muster; without it, alerts go straight into the local store.
        #[arg(long, requires = "token")]
        server: Option<String>,
        /// API token for --server (or MUSTER_TOKEN).
        #[arg(long, env = "MUSTER_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Organisation slug the alerts belong to (local store only).
        #[arg(long)]
        org: Option<String>,
        /// Exit with status 1 when any record was rejected.
        #[arg(long)]
        strict: bool,
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Validate CACAO 2.0 playbooks, or run one locally without a server.
    Playbook {
        #[command(subcommand)]
        command: playbook::PlaybookCommand,
    },
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Write a consistent snapshot of the live SQLite store to FILE.
    #[command(
        after_help = "Example:\n  muster backup /backups/muster-$(date +%F).db\nFor PostgreSQL use pg_dump (docs/operations.md)."
    )]
    Backup {
        #[command(flatten)]
        store: StoreArgs,
        file: PathBuf,
    },
    /// Replace the SQLite store with a backup (stop the server first).
    #[command(after_help = "Example:\n  muster restore /backups/muster-2026-11-27.db")]
    Restore {
        #[command(flatten)]
        store: StoreArgs,
        file: PathBuf,
    },
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Add an organisation.
    #[command(
        after_help = "Example:\n  muster org add cert-at --name \"CERT Austria\" --kind national-csirt --country AT"
    )]
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// Short unique handle (a-z, 0-9, . _ -).
        slug: String,
        #[arg(long)]
        name: String,
        /// national-csirt, sectoral-csirt, eu-cert, agency, law-enforcement, crisis-authority,
        /// external-action, defence-agency, cyber-hub, private-partner, other
        #[arg(long)]
        kind: OrgKind,
        /// ISO 3166-1 alpha-2 code.
        #[arg(long)]
        country: Option<String>,
        /// NIS2 sector; repeat for several.
        #[arg(long = "sector")]
        sectors: Vec<String>,
        /// Slug of the organisation this one is a client of.
        #[arg(long)]
        client_of: Option<String>,
    },
    /// List organisations.
    #[command(after_help = "Example:\n  muster org list")]
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add a user; prints a one-time password unless --password-stdin is given.
    #[command(after_help = "Example:\n  muster user add alice --org cert-de --role analyst --name \"Alice A.\"")]
    Add {
        #[command(flatten)]
        store: StoreArgs,
        username: String,
        /// Slug of the user's organisation.
        #[arg(long)]
        org: String,
        /// observer, analyst, coordinator, admin
        #[arg(long)]
        role: Role,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// Read the password from standard input instead of generating a one-time password.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a user's password; prints a one-time password unless --password-stdin is given.
    #[command(
        after_help = "Example:\n  muster user passwd admin\n  printf '%s' \"$PW\" | muster user passwd admin --password-stdin"
    )]
    Passwd {
        #[command(flatten)]
        store: StoreArgs,
        username: String,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create an API token; prints only the token on stdout.
    #[command(
        after_help = "Example:\n  TOKEN=$(muster token create --user alice --name siem)\n  curl -H \"Authorization: Bearer $TOKEN\" http://127.0.0.1:8080/api/v1/me"
    )]
    Create {
        #[command(flatten)]
        store: StoreArgs,
        /// Username of the token's owner.
        #[arg(long)]
        user: String,
        /// Organisation slug (default: the user's home organisation).
        #[arg(long)]
        org: Option<String>,
        /// Role of the token (default: the user's role there; never more).
        #[arg(long)]
        role: Option<Role>,
        #[arg(long, default_value = "cli")]
        name: String,
        /// Lifetime in days (default: no expiry).
        #[arg(long)]
        expires_days: Option<u32>,
    },
    /// Revoke a token by id.
    #[command(after_help = "Example:\n  muster token revoke token--0193c1a0-…")]
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        id: String,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the audit log's hash chain; exit 1 when anything was edited or deleted.
    #[command(after_help = "Example:\n  muster audit verify")]
    Verify {
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn load_config(args: &StoreArgs) -> Result<Config> {
    let mut cfg = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(d) = &args.data {
        cfg.data_dir.clone_from(d);
    }
    Ok(cfg)
}

async fn open_store(cfg: &Config) -> Result<Store> {
    Store::open(&cfg.store_options()).await.with_context(|| match &cfg.database_url {
        Some(_) => "cannot open the PostgreSQL store (database_url)".to_owned(),
        None => format!("cannot open the store in {}", cfg.data_dir.display()),
    })
}

fn read_password_stdin() -> Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s)?;
    let pw = s.trim_end_matches(['\n', '\r']).to_owned();
    muster_server::auth::check_password_policy(&pw).map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(pw)
}

async fn cli_audit(store: &Store, action: &str, target: &str, detail: serde_json::Value) -> Result<()> {
    store
        .audit(&NewAuditEntry { actor: "cli".into(), org: None, action: action.into(), target: target.into(), detail })
        .await?;
    Ok(())
}

fn print_credentials(title: &str, creds: &[Credential]) {
    if creds.is_empty() {
        return;
    }
    println!("\n{title}");
    for c in creds {
        let note = if c.one_time { "  (one-time: choose your own at first login)" } else { "" };
        println!("  {:<8} {:<22} {:<12} {}{note}", c.username, c.password, c.role.as_str(), c.organisation);
    }
    println!("  These passwords are shown only now. Reset one with: muster user passwd USERNAME\n");
}

/// mimalloc instead of the system allocator: intake allocates and frees many
/// small values per record on several threads, where glibc's arenas spent
/// ~15 % of the server's CPU (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MUSTER_LOG").unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn run(cli: Cli) -> Result<std::process::ExitCode> {
    use std::process::ExitCode;
    match cli.command {
        Command::Serve { store, listen, demo } => {
            let mut cfg = load_config(&store)?;
            if let Some(l) = listen {
                cfg.listen = l;
            }
            serve(cfg, demo).await?;
        }
        Command::Migrate { store } => {
            let cfg = load_config(&store)?;
            let s = Store::connect(&cfg.store_options()).await?;
            let applied = s.migrate().await?;
            println!("schema at version {}; applied now: {:?}", Store::latest_schema_version(), applied);
        }
        Command::Org { command: OrgCommand::Add { store, slug, name, kind, country, sectors, client_of } } => {
            let s = open_store(&load_config(&store)?).await?;
            let client_of = match client_of {
                Some(c) => Some(s.get_org_by_slug(&c).await?.id),
                None => None,
            };
            let new = NewOrganisation {
                slug,
                name,
                kind,
                country: country.map(|c| c.parse()).transpose()?,
                sectors: sectors.iter().map(|x| x.parse()).collect::<Result<_, _>>()?,
                client_of,
                tlp: muster_core::Tlp::Green,
            };
            let org = s.create_org(&new, false).await?;
            cli_audit(&s, "organisation.create", &org.id.to_string(), serde_json::json!({ "slug": org.slug })).await?;
            println!("{}", org.id);
        }
        Command::Org { command: OrgCommand::List { store } } => {
            let s = open_store(&load_config(&store)?).await?;
            for o in s.list_orgs().await? {
                let country = o.country.map(|c| c.to_string()).unwrap_or_default();
                println!("{:<16} {:<18} {:<3} {}", o.slug, o.kind.as_str(), country, o.name);
            }
        }
        Command::User { command: UserCommand::Add { store, username, org, role, name, email, password_stdin } } => {
            let s = open_store(&load_config(&store)?).await?;
            let org = s.get_org_by_slug(&org).await?;
            let (password, one_time) = if password_stdin {
                (read_password_stdin()?, false)
            } else {
                (muster_server::auth::random_password(), true)
            };
            let hash = muster_server::auth::hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
            let new =
                NewUser { display_name: name.unwrap_or_else(|| username.clone()), username, email, org: org.id, role };
            let user = s.create_user_with(&new, Some(&hash), one_time).await?;
            cli_audit(&s, "user.create", &user.id.to_string(), serde_json::json!({ "username": user.username }))
                .await?;
            if one_time {
                println!("{password}");
                eprintln!("one-time password for {}: shown once; they choose their own at first login", user.username);
            }
        }
        Command::User { command: UserCommand::Passwd { store, username, password_stdin } } => {
            let s = open_store(&load_config(&store)?).await?;
            let user = s.get_user_for_login(&username).await.with_context(|| format!("no user {username:?}"))?.user;
            let (password, one_time) = if password_stdin {
                (read_password_stdin()?, false)
            } else {
                (muster_server::auth::random_password(), true)
            };
            let hash = muster_server::auth::hash_password(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
            s.set_password_hash(user.id, &hash, one_time).await?;
            cli_audit(&s, "user.password", &user.id.to_string(), serde_json::json!({ "username": user.username }))
                .await?;
            if one_time {
                println!("{password}");
            }
        }
        Command::Token { command: TokenCommand::Create { store, user, org, role, name, expires_days } } => {
            let s = open_store(&load_config(&store)?).await?;
            let user = s.get_user_for_login(&user).await.with_context(|| format!("no user {user:?}"))?.user;
            let org_id = match org {
                Some(slug) => s.get_org_by_slug(&slug).await?.id,
                None => user.org,
            };
            let held = s
                .memberships(&user)
                .await?
                .into_iter()
                .find(|m| m.org == org_id)
                .map(|m| m.role)
                .context("the user is not a member of that organisation")?;
            let role = role.unwrap_or(held);
            if !held.at_least(role) {
                bail!("--role {role}: exceeds the user's role {held} in that organisation");
            }
            let expires_at = expires_days.map(|d| muster_store::now_ms() + i64::from(d) * 86_400_000);
            let secret = muster_server::auth::random_secret(muster_server::auth::TOKEN_PREFIX);
            let t = s.create_token(&secret, &NewToken { name, user: user.id, org: org_id, role, expires_at }).await?;
            cli_audit(&s, "token.create", &t.id.to_string(), serde_json::json!({ "name": t.name, "role": t.role }))
                .await?;
            eprintln!("token {} for {} ({role}); shown once:", t.id, user.username);
            println!("{secret}");
        }
        Command::Token { command: TokenCommand::Revoke { store, id } } => {
            let s = open_store(&load_config(&store)?).await?;
            let id: muster_core::TokenId = id.parse()?;
            let t = s.revoke_token(id).await?;
            cli_audit(&s, "token.revoke", &t.id.to_string(), serde_json::json!({ "name": t.name })).await?;
            println!("revoked {}", t.id);
        }
        Command::Ingest { store, format, rules, logsource, server, token, org, strict, paths } => {
            let events = format == ingest::SIGMA_EVENTS;
            if !events && (rules.is_some() || logsource.is_some()) {
                bail!("--rules and --logsource go with --format {}", ingest::SIGMA_EVENTS);
            }
            let target = match (server, token) {
                (Some(_), _) if rules.is_some() => bail!("--rules is for the local store; a server runs its own rules"),
                (Some(url), Some(token)) => ingest::Target::Server { url, token },
                (Some(_), None) => bail!("--server needs --token (or MUSTER_TOKEN)"),
                (None, _) => {
                    let cfg = load_config(&store)?;
                    let s = open_store(&cfg).await?;
                    let slug = org.context("--org SLUG is needed when writing to the local store (or use --server)")?;
                    let org = s.get_org_by_slug(&slug).await.with_context(|| format!("--org {slug}"))?.id;
                    let sigma = if events {
                        let mut detection = cfg.detection.clone();
                        detection.sigma_rules = rules.or(detection.sigma_rules);
                        let set = muster_server::detection::load(&detection).context("--rules")?;
                        if let Some(set) = &set {
                            let r = set.report();
                            eprintln!("Sigma: {} rules from {} files", r.rules, r.files);
                            for e in &r.errors {
                                eprintln!("  rule refused: {e}");
                            }
                        }
                        set.map(|s| (std::sync::Arc::new(s), cfg.detection.tlp))
                    } else {
                        None
                    };
                    ingest::Target::Local {
                        store: s,
                        org,
                        window_secs: cfg.dedup_window_secs,
                        sigma,
                        correlation: cfg.correlation.clone(),
                    }
                }
            };
            let summary = if events {
                let source = ingest::parse_logsource(logsource.as_deref())?;
                ingest::run_events(&target, &source, &paths).await?
            } else {
                ingest::run(&target, Some(&format), &paths).await?
            };
            println!("{}", summary.line());
            for r in &summary.first_rejections {
                eprintln!("  rejected {r}");
            }
            if strict && summary.rejected > 0 {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Playbook { command } => return playbook::run(command).await,
        Command::Audit { command: AuditCommand::Verify { store } } => {
            let s = open_store(&load_config(&store)?).await?;
            let v = s.verify_audit().await?;
            if v.is_intact() {
                println!("audit log intact: {} entries, hash chain verified", v.entries);
            } else {
                println!("audit log BROKEN ({} entries read):", v.entries);
                for p in &v.problems {
                    println!("  {p}");
                }
                return Ok(ExitCode::from(1));
            }
        }
        Command::Backup { store, file } => {
            let s = open_store(&load_config(&store)?).await?;
            s.backup_to(&file).await?;
            println!("backup written to {}", file.display());
        }
        Command::Restore { store, file } => {
            let cfg = load_config(&store)?;
            if cfg.database_url.is_some() {
                bail!("restore is built in for SQLite only; on PostgreSQL use pg_restore (docs/operations.md)");
            }
            let live = muster_store::restore_sqlite(&file, &cfg.data_dir).await?;
            println!("restored {} into {}", file.display(), live.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(cfg: Config, demo: bool) -> Result<()> {
    let started = std::time::Instant::now();
    let store = open_store(&cfg).await?;
    let admin = bootstrap::ensure_admin(&store).await?;
    let demo_creds = if demo { bootstrap::load_demo(&store).await? } else { Vec::new() };
    let listener =
        tokio::net::TcpListener::bind(cfg.listen).await.with_context(|| format!("cannot listen on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    let backend = match store.backend() {
        muster_store::Backend::Sqlite => {
            format!("SQLite at {}", store.sqlite_path().map(|p| p.display().to_string()).unwrap_or_default())
        }
        muster_store::Backend::Postgres => "PostgreSQL".to_owned(),
    };
    let state =
        AppState::start(store.clone(), cfg).context("cannot start Sigma detection ([detection] sigma_rules)")?;
    if let Some(rules) = &state.sigma {
        let r = rules.report();
        println!(
            "Sigma detection: {} rules from {} files ({} refused, see the log); raw events to POST /api/v1/events",
            r.rules,
            r.files,
            r.errors.len()
        );
    }
    if let Some(sys) = muster_server::syslog::start(&state).await? {
        let on = |a: Option<std::net::SocketAddr>| a.map_or_else(|| "off".to_owned(), |a| a.to_string());
        println!("Syslog intake: UDP {}, TCP {}", on(sys.udp), on(sys.tcp));
    }
    if let Some(a) = &admin {
        print_credentials("First start: created the platform admin.", std::slice::from_ref(a));
    }
    if demo && demo_creds.is_empty() {
        println!(
            "Demo data already loaded (users alice, bob, carol, dave, erin). Reset a password with: muster user passwd alice"
        );
    }
    print_credentials("Demo users:", &demo_creds);
    println!("Muster is ready at http://{addr}/  ({backend}; started in {} ms)", started.elapsed().as_millis());
    tracing::info!(%addr, "listening");
    let shutdown = async {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let term = async {
            if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                s.recv().await;
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! { _ = ctrl_c => {}, () = term => {} }
        tracing::info!("shutting down");
    };
    muster_server::serve(listener, state, shutdown).await?;
    store.close().await;
    Ok(())
}

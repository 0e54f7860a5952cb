//! The AdminServer: ZooKeeper's commands over HTTP as JSON (Java's `JettyAdminServer`,
//! `Commands`, `CommandResponse` and `JsonOutputter`), in Java 3.8.0's and 3.9.3's forms.
//!
//! # Layout
//! - [`json`]: JSON values and Jackson's pretty printing.
//! - [`commands`]: the command table and what each command answers (pure, from the
//!   pipeline's view: the same values as the four-letter words).
//! - this file: the HTTP side. [`route`] decides from a request alone what to do (pure);
//!   [`start`] binds `admin.serverAddress:admin.serverPort` and hands commands to the
//!   pipeline as [`ToPipeline::Admin`], measuring what they show from the disk first.
//!
//! # Java's HTTP behaviour, reproduced
//! - `GET <commandURL>` or `<commandURL>/`: the sorted primary names as HTML links, one
//!   `<a href="<commandURL>/<name>">name</a>` line and a `<br/>` line each.
//! - `GET <commandURL>/<name>?k=v`: the JSON of [`commands::run`], status 200 also for an
//!   unknown command or one that needs a serving server while there is none.
//! - Other paths: 404. TRACE: 403 (Java forbids it). OPTIONS: 200 with the servlet's
//!   `Allow`. 3.8: every other method but GET and HEAD is 405. 3.9: POST runs POST
//!   commands; a GET command POSTed fails in Java with a NullPointerException, a 500,
//!   which we answer too. Error pages are Jetty's, shortened, and empty for methods other
//!   than GET, POST and HEAD (as Jetty's `ErrorHandler`).
//! - 3.9's `snapshot` and `restore` need ALL on `/` for the ids of the `Authorization`
//!   header (`digest user:password`, `ip`; `x509` needs TLS): 401 without the header or
//!   when it does not authenticate, 403 when `/`'s ACL refuses (see `commands::run`).
//!   Then `snapshot`: 503 when disabled, 429 when rate limited (one per 300 ms: Java reads
//!   its 300000 default as microseconds), else a snapshot written to the data directory
//!   and streamed (`application/octet-stream`, headers `last_zxid` and `snapshot_size`;
//!   `?streaming=false`: the JSON with those headers). `restore`: 501, not implemented.

pub mod commands;
pub mod json;

use crate::config::Config;
use crate::http::{self, Reply, Request};
use crate::shell::ToPipeline;
use commands::CommandResponse;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tracing::{info, warn};

/// Largest request body read (3.9's `restore` is not implemented; nothing else reads one).
const MAX_BODY_BYTES: usize = 1 << 20;

/// What the process knows from its start that some commands show.
#[derive(Debug, Clone, Default)]
pub struct ProcessInfo {
    /// The configuration file's text (`initial_configuration`).
    pub initial_configuration: String,
    /// The system properties (`system_properties`).
    pub system_properties: Vec<(String, String)>,
}

impl ProcessInfo {
    /// From the configuration file's text (`None`: the embedded default) and the `-D`
    /// properties zkserver was launched with. As Java, the system properties also hold
    /// `zookeeper.<key>` for each line of the file Java reads as such a property, and the
    /// JVM's own (`user.dir`, `os.name`, ...) as `envi` shows them.
    pub fn new(config_text: Option<String>, launched: &[(String, String)]) -> ProcessInfo {
        let mut props: Vec<(String, String)> = Vec::new();
        let mut set = |k: String, v: String| match props.iter_mut().find(|(n, _)| *n == k) {
            Some((_, old)) => *old = v,
            None => props.push((k, v)),
        };
        for (k, v) in crate::probes::environment("") {
            let jvm = k.starts_with("java.io.") || k.starts_with("user.") || k.starts_with("os.");
            if jvm && !k.starts_with("os.memory.") {
                set(k, v);
            }
        }
        for (k, v) in launched {
            set(k.clone(), v.clone());
        }
        for line in config_text.as_deref().unwrap_or("").lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let name = format!("zookeeper.{}", k.trim());
                if crate::config::reads_system_property(&name) {
                    set(name, v.trim().to_string());
                }
            }
        }
        ProcessInfo {
            initial_configuration: config_text.unwrap_or_default(),
            system_properties: props,
        }
    }
}

/// One command for the pipeline to run.
#[derive(Debug, Clone)]
pub struct AdminRequest {
    pub command: String,
    pub params: Vec<(String, String)>,
    pub asker: commands::Asker,
    pub process: Arc<ProcessInfo>,
}

/// What a request asks for, decided from the request alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Run this command (name as asked) with these query parameters.
    Run {
        command: String,
        params: Vec<(String, String)>,
    },
    /// An answer that needs no server state.
    Reply(Reply),
}

/// Jetty's error answer: its HTML page (shortened: the status and its message) for GET,
/// POST and HEAD, an empty body for other methods (Jetty's `ErrorHandler`).
fn error_reply(status: u16, message: &str, req: &Request) -> Reply {
    if !matches!(req.method.as_str(), "GET" | "POST" | "HEAD") {
        return Reply {
            status,
            headers: Vec::new(),
            body: bytes::Bytes::new(),
        };
    }
    Reply::new(status, HTML, error_page(status, message, &req.path))
}

fn error_page(status: u16, message: &str, uri: &str) -> String {
    format!(
        "<html>\n<head>\n<meta http-equiv=\"Content-Type\" content=\"text/html;charset=ISO-8859-1\"/>\n\
         <title>Error {status} {message}</title>\n</head>\n<body><h2>HTTP ERROR {status} {message}</h2>\n\
         <table>\n<tr><th>URI:</th><td>{uri}</td></tr>\n<tr><th>STATUS:</th><td>{status}</td></tr>\n\
         <tr><th>MESSAGE:</th><td>{message}</td></tr>\n</table>\n\n</body>\n</html>\n"
    )
}

const HTML: &str = "text/html;charset=iso-8859-1";
const JSON: &str = "application/json";

/// Query parameters, first value of each name kept (Java's `getParameterMap()[0]`).
fn query_params(query: Option<&str>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (http::percent_decode(k, true), http::percent_decode(v, true));
        if !out.iter().any(|(n, _)| *n == k) {
            out.push((k, v));
        }
    }
    out
}

/// What Java does with `req` (see the module doc); `command_url` is `admin.commandURL`.
pub fn route(req: &Request, command_url: &str, is_3_9: bool) -> Route {
    let path = http::percent_decode(&req.path, false);
    let rest = match path.strip_prefix(command_url.trim_end_matches('/')) {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return Route::Reply(error_reply(404, "Not Found", req)),
    };
    let method = req.method.as_str();
    match method {
        "GET" | "HEAD" => {}
        "POST" if is_3_9 => {}
        "TRACE" => return Route::Reply(error_reply(403, "Forbidden", req)),
        "OPTIONS" => {
            // HttpServlet.doOptions: the methods the servlet implements.
            let allow = if is_3_9 {
                "GET, HEAD, POST, TRACE, OPTIONS"
            } else {
                "GET, HEAD, TRACE, OPTIONS"
            };
            return Route::Reply(Reply {
                status: 200,
                headers: vec![("Allow", allow.to_string())],
                body: bytes::Bytes::new(),
            });
        }
        _ => {
            let message = format!("HTTP method {method} is not supported by this URL");
            return Route::Reply(error_reply(405, &message, req));
        }
    }
    let command = rest.strip_prefix('/').unwrap_or(rest);
    if command.is_empty() {
        let mut links = String::new();
        for name in commands::primary_names(is_3_9) {
            links.push_str(&format!(
                "<a href=\"{command_url}/{name}\">{name}</a>\n<br/>\n"
            ));
        }
        // Java writes the links without setting a content type.
        return Route::Reply(Reply {
            status: 200,
            headers: Vec::new(),
            body: links.into(),
        });
    }
    // 3.9.3 POSTs a GET command's `runPost`, which is null: a NullPointerException (the
    // commands that need authentication check it first, in `commands::run`).
    if let Some(cmd) = commands::find(command, is_3_9) {
        if method == "POST" && !cmd.post && !cmd.auth {
            return Route::Reply(error_reply(500, "java.lang.NullPointerException", req));
        }
    }
    Route::Run {
        command: command.to_string(),
        // A POST's parameters are in its body, which no command but `restore` reads.
        params: if method == "POST" {
            Vec::new()
        } else {
            query_params(req.query.as_deref())
        },
    }
}

/// The reply for a command's response: Java's `JsonOutputter`, or its `StreamOutputter`
/// for a streamed snapshot; with the response's headers.
pub fn json_reply(response: &CommandResponse) -> Reply {
    let mut reply = match &response.stream {
        Some(bytes) => Reply::new(response.status, "application/octet-stream", bytes.clone()),
        None => Reply::new(response.status, JSON, response.to_json().pretty()),
    };
    reply.headers.extend(response.headers.iter().cloned());
    reply
}

/// The four-letter word whose probes a command needs (see `probes::measure`).
fn probe_word(command: &str) -> &'static str {
    match commands::find(command, true).map(commands::Command::primary_name) {
        Some("monitor") => "mntr",
        Some("configuration" | "dirs" | "server_stats" | "stats") => "conf",
        Some("environment") => "envi",
        _ => "",
    }
}

/// Start the AdminServer of `cfg.admin` (if enabled) in the background: commands go to
/// the pipeline through `pipeline`. A port that cannot be bound is logged with Java's
/// words, and the server goes on without it.
pub async fn start(cfg: &Config, process: ProcessInfo, pipeline: mpsc::Sender<ToPipeline>) {
    let admin = &cfg.admin;
    if !admin.enabled {
        return;
    }
    let problem = |e: &dyn std::fmt::Display| {
        warn!(
            "Problem starting AdminServer on address {}, port {} and command URL {}: {e}",
            admin.address, admin.port, admin.command_url
        );
    };
    let listener = match tokio::net::lookup_host((admin.address.as_str(), admin.port)).await {
        Ok(mut addrs) => match addrs.next() {
            Some(addr) => match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => l,
                Err(e) => return problem(&e),
            },
            None => return problem(&"no address"),
        },
        Err(e) => return problem(&e),
    };
    info!(
        "Started AdminServer on address {}, port {} and command URL {}",
        admin.address, admin.port, admin.command_url
    );
    let limits = http::Limits {
        idle_timeout: Duration::from_millis(admin.idle_timeout_ms.max(1) as u64),
        max_body_bytes: MAX_BODY_BYTES,
        // Jetty's default thread pool (QueuedThreadPool: 200 threads) serves no more.
        max_connections: 200,
    };
    let command_url = admin.command_url.clone();
    let is_3_9 = cfg.compat_version.is_3_9();
    let cfg = Arc::new(cfg.clone());
    let process = Arc::new(process);
    tokio::spawn(http::serve(listener, limits, move |req: Request| {
        let route = route(&req, &command_url, is_3_9);
        let asker = commands::Asker {
            authorization: req.header("authorization").map(str::to_string),
            peer: req.peer,
        };
        let (cfg, process, pipeline) = (cfg.clone(), process.clone(), pipeline.clone());
        async move {
            let (command, params) = match route {
                Route::Reply(reply) => return reply,
                Route::Run { command, params } => (command, params),
            };
            let probes = {
                let (cfg, word) = (cfg.clone(), probe_word(&command));
                tokio::task::spawn_blocking(move || {
                    let mut p = crate::probes::measure(word, &cfg);
                    p.last_snapshot = crate::probes::last_snapshot(&cfg);
                    p
                })
                .await
                .unwrap_or_default()
            };
            let request = AdminRequest {
                command,
                params,
                asker,
                process,
            };
            let (tx, rx) = oneshot::channel();
            let asked = ToPipeline::Admin {
                request: Box::new(request),
                probes: Box::new(probes),
                reply: tx,
            };
            if pipeline.send(asked).await.is_err() {
                return Reply::new(503, "text/plain", "the server is shutting down\n");
            }
            match rx.await {
                Ok(response) => json_reply(&response),
                Err(_) => Reply::new(503, "text/plain", "the server is shutting down\n"),
            }
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: &str, path: &str, query: Option<&str>) -> Request {
        Request {
            method: method.to_string(),
            path: path.to_string(),
            query: query.map(str::to_string),
            headers: Vec::new(),
            body: bytes::Bytes::new(),
            peer: "127.0.0.1:1".parse().unwrap(),
        }
    }

    fn run(command: &str, params: &[(&str, &str)]) -> Route {
        Route::Run {
            command: command.to_string(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn commands_and_their_parameters() {
        let r = route(
            &req(
                "GET",
                "/commands/stmk",
                Some("traceMask=1%32&x&traceMask=9"),
            ),
            "/commands",
            false,
        );
        assert_eq!(r, run("stmk", &[("traceMask", "12"), ("x", "")]));
        assert_eq!(
            route(&req("HEAD", "/commands/ruok", None), "/commands", false),
            run("ruok", &[])
        );
        // What follows the command URL is the command, slashes and all.
        assert_eq!(
            route(&req("GET", "/commands/a/b", None), "/commands", false),
            run("a/b", &[])
        );
        assert_eq!(
            route(&req("GET", "/cmds/ruok", None), "/cmds", true),
            run("ruok", &[])
        );
    }

    #[test]
    fn the_command_list_and_other_paths() {
        for path in ["/commands", "/commands/"] {
            let Route::Reply(Reply {
                status: 200, body, ..
            }) = route(&req("GET", path, None), "/commands", false)
            else {
                panic!("{path}");
            };
            let body = String::from_utf8_lossy(&body);
            assert!(
                body.starts_with("<a href=\"/commands/configuration\">configuration</a>\n<br/>\n")
            );
            assert!(body.ends_with("<a href=\"/commands/zabstate\">zabstate</a>\n<br/>\n"));
            assert_eq!(body.lines().count(), 2 * 26);
        }
        let Route::Reply(Reply {
            status: 200, body, ..
        }) = route(&req("GET", "/commands", None), "/commands", true)
        else {
            panic!()
        };
        assert_eq!(String::from_utf8_lossy(&body).lines().count(), 2 * 28);
        assert!(matches!(
            route(&req("GET", "/", None), "/commands", false),
            Route::Reply(Reply { status: 404, .. })
        ));
        assert!(matches!(
            route(&req("GET", "/commandsx", None), "/commands", false),
            Route::Reply(Reply { status: 404, .. })
        ));
    }

    #[test]
    fn methods() {
        let post = req("POST", "/commands/ruok", None);
        assert!(matches!(
            route(&post, "/commands", false),
            Route::Reply(Reply { status: 405, .. })
        ));
        assert!(matches!(
            route(&post, "/commands", true),
            Route::Reply(Reply { status: 500, .. })
        ));
        assert_eq!(
            route(&req("POST", "/commands/nope", None), "/commands", true),
            run("nope", &[])
        );
        assert!(matches!(
            route(&req("PUT", "/commands/ruok", None), "/commands", true),
            Route::Reply(Reply { status: 405, .. })
        ));
        assert!(matches!(
            route(&req("TRACE", "/commands/ruok", None), "/commands", true),
            Route::Reply(Reply { status: 403, .. })
        ));
    }

    #[test]
    fn snapshot_and_restore_exist_in_3_9_only() {
        assert_eq!(
            route(&req("GET", "/commands/snapshot", None), "/commands", false),
            run("snapshot", &[])
        );
        // 3.9: authentication comes first (commands::run), whatever the method.
        assert_eq!(
            route(&req("GET", "/commands/restore", None), "/commands", true),
            run("restore", &[])
        );
        assert_eq!(
            route(&req("POST", "/commands/snap", None), "/commands", true),
            run("snap", &[])
        );
    }
}

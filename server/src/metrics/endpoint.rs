//! The Prometheus endpoint's IO (Java's `PrometheusMetricsProvider.start`: Jetty serving
//! `/metrics` on `metricsProvider.httpHost:httpPort`): it binds the port, routes each request
//! ([`prometheus::route`]), measures `/proc` off the pipeline, asks the pipeline for the
//! registry ([`ToPipeline::Metrics`]) and renders it here, so a scrape costs the pipeline
//! only the copy of its counters.

use super::prometheus::{self, Route};
use crate::config::Config;
use crate::http::{self, Limits, Reply, Request};
use crate::shell::{MetricsRequest, ToPipeline};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tracing::info;

/// Jetty's default idle timeout; scrapes carry no body worth reading.
const LIMITS: Limits = Limits {
    idle_timeout: Duration::from_secs(30),
    max_body_bytes: 64 * 1024,
    // Scrapers keep a connection or two each.
    max_connections: 64,
};

/// With `metricsProvider.className` set to Java's Prometheus provider: bind its port and
/// serve it until the process ends. Java refuses to start when the port cannot be bound
/// ("Cannot start /metrics server"); the caller does the same with the error.
pub async fn start(cfg: &Config, to_pipeline: mpsc::Sender<ToPipeline>) -> Result<(), String> {
    let conf = &cfg.metrics_provider;
    if !conf.prometheus {
        return Ok(());
    }
    let addr = format!("{}:{}", conf.http_host, conf.http_port);
    let listener = TcpListener::bind(&addr)
        .await
        .map_err(|e| format!("Cannot start /metrics server at {addr}: {e}"))?;
    info!(
        "Starting /metrics HTTP endpoint at host: {}, port: {}, exportJvmInfo: {}",
        conf.http_host, conf.http_port, conf.export_jvm_info
    );
    let cfg = Arc::new(cfg.clone());
    tokio::spawn(http::serve(listener, LIMITS, move |req: Request| {
        let cfg = Arc::clone(&cfg);
        let to_pipeline = to_pipeline.clone();
        async move { answer(req, cfg, to_pipeline).await }
    }));
    Ok(())
}

async fn answer(req: Request, cfg: Arc<Config>, to_pipeline: mpsc::Sender<ToPipeline>) -> Reply {
    let names = match prometheus::route(&req) {
        Route::Scrape { names } => names,
        Route::Refuse(status) => {
            return Reply::new(status, "text/plain", format!("{status}\n"));
        }
    };
    let export_jvm_info = cfg.metrics_provider.export_jvm_info;
    let (probes, process) = tokio::task::spawn_blocking(move || {
        (
            crate::probes::measure("mntr", &cfg),
            export_jvm_info.then(crate::probes::process),
        )
    })
    .await
    .unwrap_or_default();
    let (reply, registry) = oneshot::channel();
    let asked = to_pipeline
        .send(ToPipeline::Metrics(MetricsRequest {
            probes: Box::new(probes),
            reply,
        }))
        .await;
    let Ok(metrics) = (match asked {
        Ok(()) => registry.await.map_err(|_| ()),
        Err(_) => Err(()),
    }) else {
        return Reply::new(503, "text/plain", "the server is stopping\n");
    };
    let text = prometheus::render(&metrics, process.as_ref(), &names);
    prometheus::reply(text, req.method == "HEAD")
}

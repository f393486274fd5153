//! `GET /healthz` (database, broker and shutdown state as JSON; 503 when not
//! serving) and `GET /metrics` (Prometheus text format).

use warp::http::StatusCode;
use warp::{Filter, Reply};

use super::AppState;

/// `/healthz`, and `/metrics` when `with_metrics` (otherwise it is 404 here:
/// it has a listener of its own, `--metrics-bind`).
pub fn routes(
    state: AppState,
    with_metrics: bool,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    let metrics_here = warp::any()
        .and_then(move || async move {
            if with_metrics {
                Ok(())
            } else {
                Err(warp::reject::not_found())
            }
        })
        .untuple_one();
    healthz(state.clone())
        .or(metrics_here.and(metrics(state)))
        .unify()
}

/// GET /healthz — 200 when the database answers, 503 otherwise. With
/// several instances, `broker` tells the fan-out path's state; while it is
/// down (or silently stopped delivering) the status is `degraded`, still
/// 200: the instance keeps delivering everything, through the database.
fn healthz(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::path!("healthz").and(warp::get()).and(state.with()).then(|state: AppState| async move {
        let db = state.chat.db.run(|conn| {
            crate::with_backend!(conn, c => diesel::connection::SimpleConnection::batch_execute(c, "SELECT 1"))
        });
        match db.await {
            Ok(()) if !*state.shutdown.borrow() => {
                let broker = state.chat.cluster.as_ref().map(|c| c.health());
                let status = match broker {
                    Some(crate::chat::cluster::BrokerHealth::Down) => "degraded",
                    _ => "ok",
                };
                let mut body = serde_json::json!({"status": status});
                if let Some(broker) = broker {
                    body["broker"] = serde_json::json!(broker);
                }
                warp::reply::json(&body).into_response()
            }
            Ok(()) => super::error::json_error(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", "Shutting down.".into()),
            Err(err) => {
                tracing::error!(error = %err, "health check: database unavailable");
                super::error::json_error(StatusCode::SERVICE_UNAVAILABLE, "database_unavailable", "Database unavailable.".into())
            }
        }
    })
}

/// GET /metrics — Prometheus text format.
fn metrics(
    state: AppState,
) -> impl Filter<Extract = (warp::reply::Response,), Error = warp::Rejection> + Clone {
    warp::path!("metrics")
        .and(warp::get())
        .and(state.with())
        .map(|state: AppState| {
            warp::reply::with_header(
                state.chat.metrics.render(),
                "content-type",
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )
            .into_response()
        })
}

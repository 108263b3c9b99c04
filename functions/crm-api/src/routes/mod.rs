//! The Lambda handler: resolves the route, runs it, turns every `ApiError` into a problem
//! answer and writes one log line per request.

pub mod changes;
pub mod docs;
pub mod users;

use std::convert::Infallible;
use std::time::Instant;

use lambda_http::http::Method;
use lambda_http::{Body, Request, RequestExt, Response};
use uuid::Uuid;

use crate::error::ApiError;
use crate::App;
use http_edge::request::route_path;
use http_edge::ProblemError;

/// The user a response is about, attached as a response extension for the log line.
#[derive(Debug, Clone, Copy)]
pub struct SubjectUser(pub Uuid);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Users,
    User(&'a str),
    OpenApi,
    Swagger,
}

impl<'a> Route<'a> {
    fn resolve(path: &'a str) -> Option<Self> {
        match path {
            "/api/crm" => Some(Self::Users),
            "/openapi.json" => Some(Self::OpenApi),
            "/swagger" => Some(Self::Swagger),
            _ => path
                .strip_prefix("/api/crm/")
                .filter(|id| !id.contains('/'))
                .map(Self::User),
        }
    }

    /// The route's template, for logs (never the raw path: it may hold anything).
    fn template(self) -> &'static str {
        match self {
            Self::Users => "/api/crm",
            Self::User(_) => "/api/crm/{id}",
            Self::OpenApi => "/openapi.json",
            Self::Swagger => "/swagger",
        }
    }

    fn allow(self) -> &'static str {
        match self {
            Self::Users => "GET, POST",
            Self::User(_) => "DELETE, GET, PATCH",
            Self::OpenApi | Self::Swagger => "GET",
        }
    }
}

/// Always `Ok`: an `Err` from a `lambda_http` handler reaches the client as a bare 502.
pub async fn handle(app: &App, req: Request) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    // Behind API Gateway the `{id}` resource names the id itself: an id that decodes to a
    // `?` or `/` (`/api/crm/%3F`) would otherwise end the path early and read as the list.
    let route = match req.path_parameters_ref().and_then(|p| p.first("id")) {
        Some(id) => Some(Route::User(id)),
        None => Route::resolve(route_path(&req)),
    };
    let result = match (route, req.method()) {
        (None, _) => Err(ApiError::NotFound),
        (Some(Route::Users), &Method::POST) => users::create(app, &req).await,
        (Some(Route::Users), &Method::GET) => users::list(app, &req).await,
        (Some(Route::User(id)), &Method::GET) => users::get(app, id).await,
        (Some(Route::User(id)), &Method::PATCH) => changes::update(app, &req, id).await,
        (Some(Route::User(id)), &Method::DELETE) => changes::delete(app, &req, id).await,
        (Some(Route::OpenApi), &Method::GET) => Ok(docs::openapi_json()),
        (Some(Route::Swagger), &Method::GET) => Ok(docs::swagger_ui(&req)),
        (Some(route), _) => Err(ApiError::MethodNotAllowed { allow: route.allow() }),
    };
    let response = result.unwrap_or_else(|error| error.to_response());
    tracing::info!(
        method = %req.method(),
        route = route.map_or("unmatched", Route::template),
        status = response.status().as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        user_id = response.extensions().get::<SubjectUser>().map(|u| u.0.to_string()),
        "request"
    );
    crate::metrics::request(
        &app.metrics_namespace,
        req.method(),
        route.map(Route::template),
        response.status(),
        started.elapsed(),
    )
    .emit(time::OffsetDateTime::now_utc());
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::Route;

    #[test]
    fn resolves_routes() {
        for (path, route) in [
            ("/api/crm", Some(Route::Users)),
            ("/api/crm/abc", Some(Route::User("abc"))),
            ("/api/crm/abc/def", None),
            ("/api", None),
            ("/openapi.json", Some(Route::OpenApi)),
            ("/swagger", Some(Route::Swagger)),
        ] {
            assert_eq!(Route::resolve(path), route, "{path}");
        }
    }
}

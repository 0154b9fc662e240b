//! The read API of the service this pipeline replaces (community-scripts/telemetry-service),
//! for the third parties that still read it: `/api/dashboard`, `/api/scripts`,
//! `/api/errors`, `/api/exit-codes` and `/api/repo-slugs` in the old JSON shapes,
//! `/api/records` gone, and the old pages sent on to the dashboard's views.
//!
//! Every number is taken from a published document (crate::documents), never from a
//! query of its own, so it is under the same release, k rule and noise as `/v1/stats`:
//! a table here cannot show what the documents withhold, and the same runs give the same
//! numbers in both. Where the old service had a number we do not publish, the field is
//! `null` (or the old empty value) and says why below. The old `days` (any number of
//! days up to "today") is answered from the smallest of our fixed windows that covers
//! it, since any other window would give a day's exact counts by subtraction; `repo`
//! named the `repo_source` and is mapped onto our repositories. Every answer says it is
//! deprecated and links the document that replaces it.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{Redirect, Response};
use axum::routing::get;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::dimension::Dimension;
use crate::documents::Documents;
use crate::error::ApiError;
use crate::published::Meta;
use crate::state::AppState;
use crate::stats::{Platform, Repo, Scope, WINDOWS, Window};

/// When the old routes are deprecated (RFC 9745): the date third parties are told to
/// have moved to `/v1/stats` by.
const DEPRECATED_AT: OffsetDateTime = datetime!(2026-12-01 0:00 UTC);

/// What `/api/records` answers instead of the per-install log.
const RECORDS_GONE: &str = "per-install records are not published: under the processing \
     record (docs/ROPA.md) only statistics of at least k runs from k sessions leave the \
     service; read them at /v1/stats (summary, apps, daily, os, pve, hardware, errors)";

/// One of the old service's routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Old {
    Dashboard,
    Records,
    Scripts,
    Errors,
    RepoSlugs,
    ExitCodes,
    DashboardPage,
    ErrorPage,
    ScriptPage,
}

const ROUTES: [(&str, Old); 9] = [
    ("/api/dashboard", Old::Dashboard),
    ("/api/records", Old::Records),
    ("/api/scripts", Old::Scripts),
    ("/api/errors", Old::Errors),
    ("/api/repo-slugs", Old::RepoSlugs),
    ("/api/exit-codes", Old::ExitCodes),
    ("/dashboard", Old::DashboardPage),
    ("/error-analysis", Old::ErrorPage),
    ("/script-analysis", Old::ScriptPage),
];

/// Whether `path` is one of the old service's routes (a metric label of its own).
pub fn is_old_route(path: &str) -> bool {
    Old::at(path).is_some()
}

impl Old {
    fn at(path: &str) -> Option<Old> {
        ROUTES.iter().find(|(p, _)| *p == path).map(|(_, old)| *old)
    }

    /// The days the old service counted when asked for `asked` (`None`: not asked), by
    /// its own rules: each endpoint had its own default and read 0 and negative numbers
    /// its own way. `None`: all time.
    fn days(self, asked: Option<i64>) -> Option<u32> {
        use Old::*;
        let Some(asked) = asked else {
            return Some(match self {
                Dashboard | Records | DashboardPage => 1,
                Errors | ErrorPage => 7,
                Scripts | ScriptPage | RepoSlugs | ExitCodes => 30,
            });
        };
        match (self, asked) {
            (Scripts | ScriptPage, 0) => None,
            (Dashboard | Records | DashboardPage, 0) => Some(365),
            (_, d) if d < 1 => Some(1),
            (_, d) => Some(u32::try_from(d.min(365)).unwrap_or(365)),
        }
    }

    /// The new document that replaces it (for the old pages, the dashboard's view).
    fn successor(self) -> &'static str {
        match self {
            Old::Dashboard | Old::Records => "summary",
            Old::Scripts => "apps",
            Old::Errors | Old::ExitCodes => "errors",
            // Runs by `repo_source` are the nearest we publish to runs by slug.
            Old::RepoSlugs => "hardware",
            Old::DashboardPage => "overview",
            Old::ErrorPage => "errors",
            Old::ScriptPage => "scripts",
        }
    }

    fn is_page(self) -> bool {
        matches!(self, Old::DashboardPage | Old::ErrorPage | Old::ScriptPage)
    }
}

/// The smallest of our windows that covers `days` days (`None`: all of them).
fn covering(days: Option<u32>) -> Option<u32> {
    let days = days?;
    WINDOWS.into_iter().flatten().find(|w| *w >= days)
}

/// A window as `/v1/stats` and the dashboard's fragment name it in `days`.
fn days_param(window: Option<u32>) -> String {
    window.map_or_else(|| "all".to_owned(), |d| d.to_string())
}

/// The old parameters. `slug` (a repository slug) is not read: no slug is materialised
/// (ingest keeps only the official repositories' slugs, and forks without their
/// owner), so every answer counts all slugs of the repository.
#[derive(Debug, Default, Deserialize)]
struct OldQuery {
    days: Option<String>,
    repo: Option<String>,
}

impl OldQuery {
    /// `days` as a number; `None` when missing or empty, which the old service read as
    /// its default. Only the number itself: the old parser also took `7abc` as 7, which
    /// no reader should rely on.
    fn asked_days(&self) -> Result<Option<i64>, ApiError> {
        match self.days.as_deref() {
            None | Some("") => Ok(None),
            Some(d) => d.parse().map(Some).map_err(|_| ApiError::BadOldDays),
        }
    }

    /// `repo` as the old service named it (its `repo_source`); our own names are taken
    /// too, for a reader halfway through switching.
    fn repo(&self) -> Result<Repo, ApiError> {
        match self.repo.as_deref() {
            None | Some("" | "ProxmoxVE") => Ok(Repo::Production),
            Some("ProxmoxVED") => Ok(Repo::Development),
            Some(r) => Repo::named(r).ok_or(ApiError::BadOldRepo),
        }
    }

    fn scope(&self, old: Old) -> Result<Scope, ApiError> {
        let days = old.days(self.asked_days()?);
        // The documents the old routes answer from, and link to, are of Proxmox VE
        // hosts, the default: the old service had no platform parameter.
        Ok(Scope {
            window: Window::last(covering(days)),
            repo: self.repo()?,
            platform: Platform::Pve,
        })
    }

    /// The dashboard's view that replaces an old page: its route in the fragment, with
    /// the repository and window only where the request named them (the dashboard's own
    /// defaults otherwise).
    fn view(&self, old: Old) -> Result<String, ApiError> {
        let mut params = Vec::new();
        if self.repo.as_deref().is_some_and(|r| !r.is_empty()) {
            params.push(format!("repo={}", self.repo()?.name()));
        }
        if let Some(asked) = self.asked_days()? {
            let window = covering(old.days(Some(asked)));
            params.push(format!("days={}", days_param(window)));
        }
        let mut view = format!("/#/{}", old.successor());
        if !params.is_empty() {
            view.push('?');
            view.push_str(&params.join("&"));
        }
        Ok(view)
    }

    /// Where the answer's successor lives: the new document of the same scope, or the
    /// bare document (the dashboard's bare view) when the parameters do not parse.
    fn successor(&self, old: Old) -> String {
        if old.is_page() {
            return self
                .view(old)
                .unwrap_or_else(|_| format!("/#/{}", old.successor()));
        }
        let document = format!("/v1/stats/{}", old.successor());
        if old == Old::ExitCodes {
            return document;
        }
        match self.scope(old) {
            Ok(scope) => format!(
                "{document}?days={}&repo={}",
                days_param(scope.window.days),
                scope.repo.name()
            ),
            Err(_) => document,
        }
    }
}

/// The old service's routes, each answer marked deprecated with its successor.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/dashboard", get(dashboard))
        .route("/api/scripts", get(scripts))
        .route("/api/errors", get(errors))
        .route("/api/exit-codes", get(exit_codes))
        .route("/api/repo-slugs", get(repo_slugs))
        .route("/api/records", get(records))
        .route("/dashboard", get(page))
        .route("/error-analysis", get(page))
        .route("/script-analysis", get(page))
        .route_layer(middleware::from_fn(deprecated))
}

/// `Deprecation` and `Link: <successor>; rel="successor-version"` on every answer of an
/// old route, errors and 304s included: a reader who looks at one response learns where
/// to go.
async fn deprecated(request: Request, next: Next) -> Response {
    let old = Old::at(request.uri().path());
    let query = Query::<OldQuery>::try_from_uri(request.uri())
        .map(|Query(q)| q)
        .unwrap_or_default();
    let mut response = next.run(request).await;
    if let Some(old) = old {
        let headers = response.headers_mut();
        let at = format!("@{}", DEPRECATED_AT.unix_timestamp());
        if let Ok(v) = HeaderValue::from_str(&at) {
            headers.insert(HeaderName::from_static("deprecation"), v);
        }
        let link = format!("<{}>; rel=\"successor-version\"", query.successor(old));
        if let Ok(v) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, v);
        }
    }
    response
}

/// Answer the old shape `build` makes from the documents of `scope`: cached, tagged and
/// revalidated as the documents are (crate::answer), so it changes only with the release.
async fn answer<T, F, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    name: &str,
    scope: Scope,
    build: F,
) -> Result<Response, ApiError>
where
    T: Serialize,
    F: FnOnce(Arc<Documents>, Meta) -> Fut + Send + 'static,
    Fut: Future<Output = Result<T, ApiError>> + Send,
{
    let meta = state.documents.meta(scope).await?;
    let key = format!("old/{name}/{}@{}", scope.name(), meta.window.until);
    let as_of = meta.generated_at;
    let docs = state.documents.clone();
    crate::answer::cached(state, headers, key, as_of, "application/json", async move {
        let body = build(docs, meta).await?;
        Ok(Some(
            serde_json::to_vec(&body).map_err(ApiError::Serialise)?,
        ))
    })
    .await
}

async fn dashboard(
    State(state): State<AppState>,
    Query(query): Query<OldQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scope = query.scope(Old::Dashboard)?;
    answer(
        &state,
        &headers,
        "dashboard",
        scope,
        |docs, meta| async move { dashboard_of(&docs, meta).await },
    )
    .await
}

async fn scripts(
    State(state): State<AppState>,
    Query(query): Query<OldQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scope = query.scope(Old::Scripts)?;
    answer(
        &state,
        &headers,
        "scripts",
        scope,
        |docs, meta| async move { scripts_of(&docs, meta).await },
    )
    .await
}

async fn errors(
    State(state): State<AppState>,
    Query(query): Query<OldQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let scope = query.scope(Old::Errors)?;
    answer(&state, &headers, "errors", scope, |docs, meta| async move {
        errors_of(&docs, meta).await
    })
    .await
}

/// `GET /api/repo-slugs`: `{"repo_slugs": null}`. No slug is materialised, so there is
/// nothing to list; the parameters are still checked, as on every old route.
async fn repo_slugs(
    State(state): State<AppState>,
    Query(query): Query<OldQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    query.scope(Old::RepoSlugs)?;
    let body = serde_json::to_vec(&RepoSlugs {
        repo_slugs: Unpublished,
    })
    .map_err(ApiError::Serialise)?;
    Ok(crate::answer::cacheable(
        &headers,
        "application/json",
        crate::answer::max_age(&state),
        body,
    ))
}

/// `GET /api/exit-codes`: every exit code's meaning, from the table the error analysis
/// reads (the client's own, schemas::category), keyed by the code as a string in
/// string order, as the old service's map came out.
async fn exit_codes(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let table: BTreeMap<String, &'static str> = (0..=u8::MAX)
        .filter_map(|code| {
            let meaning = schemas::category::describe_exit_code(code)?;
            Some((code.to_string(), meaning))
        })
        .collect();
    let body = serde_json::to_vec(&table).map_err(ApiError::Serialise)?;
    Ok(crate::answer::cacheable(
        &headers,
        "application/json",
        crate::answer::max_age(&state),
        body,
    ))
}

/// `GET /api/records`: the per-install log is gone for good.
async fn records() -> ApiError {
    ApiError::Gone(RECORDS_GONE)
}

/// `/dashboard`, `/error-analysis`, `/script-analysis`: the dashboard's matching view.
async fn page(uri: axum::http::Uri, Query(query): Query<OldQuery>) -> Result<Redirect, ApiError> {
    let old = Old::at(uri.path()).ok_or(ApiError::NotFound("no such resource"))?;
    Ok(Redirect::permanent(&query.view(old)?))
}

/// A field the old service filled and we do not publish: always `null`.
#[derive(Debug, Clone, Copy)]
struct Unpublished;

impl Serialize for Unpublished {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_none()
    }
}

/// A row of the old top lists: `{"<key>": value, "count": n}`.
#[derive(Debug)]
struct Counted {
    key: &'static str,
    value: String,
    count: u64,
}

impl Serialize for Counted {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry(self.key, &self.value)?;
        map.serialize_entry("count", &self.count)?;
        map.end()
    }
}

/// The old service's Go encoder wrote a list it never filled as `null`, and its readers
/// expect that: an empty list is `None`.
fn nil<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

/// The `limit` largest counts, most first; a value without runs is not a row (the old
/// lists came from `GROUP BY`, which has no empty groups).
fn top(
    key: &'static str,
    rows: impl IntoIterator<Item = (String, u64)>,
    limit: usize,
) -> Option<Vec<Counted>> {
    let mut rows: Vec<(String, u64)> = rows
        .into_iter()
        .filter(|(value, count)| *count > 0 && !value.is_empty())
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    rows.truncate(limit);
    nil(rows
        .into_iter()
        .map(|(value, count)| Counted { key, value, count })
        .collect())
}

/// The old service's percentages: unrounded, and 0 over nothing.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64 * 100.0
    }
}

/// The window's days, oldest first, each with what `published` holds of it: the old
/// series had every day of the window, ours leave out the days below k, which are
/// `None` here (a day without runs looks the same, and must). Over all days, only the
/// days published.
fn every_day<T: Copy>(window: Window, published: BTreeMap<String, T>) -> Vec<(String, Option<T>)> {
    let Some(days) = window.days else {
        return published.into_iter().map(|(d, v)| (d, Some(v))).collect();
    };
    (0..days)
        .rev()
        .filter_map(|back| {
            window
                .until
                .checked_sub(time::Duration::days(i64::from(back)))
        })
        .map(|day| {
            let day = day.to_string();
            let value = published.get(&day).copied();
            (day, value)
        })
        .collect()
}

/// `{"repo_slugs": null}`.
#[derive(Debug, Serialize)]
struct RepoSlugs {
    repo_slugs: Unpublished,
}

/// `GET /api/dashboard`: the old `DashboardData`, field for field. Counts are runs
/// (the old counted event rows, several per run); `null` where the summary withholds
/// them (the scope's runs below k).
#[derive(Debug, Serialize)]
struct Dashboard {
    total_installs: Option<u64>,
    /// Runs of every repository over every released day: the summary of
    /// `days=all&repo=all`.
    total_all_time: Option<u64>,
    sample_size: Option<u64>,
    success_count: Option<u64>,
    failed_count: Option<u64>,
    aborted_count: Option<u64>,
    /// Runs of the window that never sent a terminal status (unfinished and in
    /// progress). The old counted today's open rows, and today is never public.
    installing_count: Option<u64>,
    /// The old formula on our counts: success / (success + failed) × 100, aborted runs
    /// left out (the summary's `success_rate` counts them, as a fraction).
    success_rate: Option<f64>,
    /// Runs per app, the 20 most.
    top_apps: Option<Vec<Counted>>,
    /// Finished runs per OS, the 15 most: our OS versions added up per OS (the old
    /// counted terminal events per `os_type`).
    os_distribution: Option<Vec<Counted>>,
    /// Finished runs per install method, the 10 most.
    method_stats: Option<Vec<Counted>>,
    /// Finished runs per PVE version, the 15 most.
    pve_versions: Option<Vec<Counted>>,
    /// Runs per script type, the 10 most.
    type_stats: Option<Vec<Counted>>,
    /// The 15 most common error patterns (masked texts, crate::patterns; the old grouped
    /// raw texts by keyword) by failed runs.
    error_analysis: Option<Vec<ErrorGroup>>,
    /// The old ranking by failure rate, 16 apps balanced between LXC and the rest, over
    /// the apps the apps document ranks (at least its `min_runs` finished runs).
    failed_apps: Vec<FailedApp>,
    /// Per-install records are not published (docs/ROPA.md).
    recent_records: Unpublished,
    /// Every day of the window, oldest first; a day withheld below k is `null`.
    daily_stats: Vec<DailyStat>,
    /// Runs by GPU vendor and passthrough together: the two are published apart only
    /// (hardware document), and a cross-table of them is not.
    gpu_stats: Unpublished,
    /// Failed runs per error category, `user_aborted` left out as the old did.
    error_categories: Option<Vec<Counted>>,
    /// Runs per host tool (type `pve` or `tool`), the 15 most.
    top_tools: Option<Vec<Counted>>,
    /// Runs per addon, the 15 most.
    top_addons: Option<Vec<Counted>>,
    /// The mean install time is not published: the apps document has each app's
    /// duration quantiles, from enough runs and rounded, and no mean over all apps.
    avg_install_duration: Unpublished,
    /// The sum of `top_tools`, as the old defined it (the 15 listed only).
    total_tools: u64,
    total_addons: u64,
    /// No slug is materialised (see `/api/repo-slugs`).
    repo_slugs: Unpublished,
}

#[derive(Debug, Serialize)]
struct ErrorGroup {
    pattern: String,
    count: u64,
    /// How many apps share the pattern is not published: only apps with k runs of it,
    /// at most five, are named.
    unique_apps: Unpublished,
    /// Those apps, most runs first, joined with ", ".
    apps: String,
}

#[derive(Debug, Serialize)]
struct FailedApp {
    app: String,
    /// The app's most common type as its document publishes it; `null` where it
    /// withholds it.
    #[serde(rename = "type")]
    kind: Option<String>,
    total_count: u64,
    failed_count: u64,
    /// The old formula: failed / runs × 100 (the apps document's rate is over finished
    /// runs).
    failure_rate: f64,
}

#[derive(Debug, Serialize)]
struct DailyStat {
    date: String,
    success: Option<u64>,
    failed: Option<u64>,
}

/// The old `buildFailedApps`: the highest failure rates, `n` apps of which half are
/// LXC (the odd one too) and half the rest, filled from either when the other runs out.
fn balance(mut apps: Vec<FailedApp>, n: usize) -> Vec<FailedApp> {
    apps.sort_by(|a, b| {
        b.failure_rate
            .total_cmp(&a.failure_rate)
            .then_with(|| b.total_count.cmp(&a.total_count))
            .then_with(|| a.app.cmp(&b.app))
    });
    let (lxc, rest): (Vec<_>, Vec<_>) = apps
        .into_iter()
        .partition(|a| a.kind.as_deref() == Some("lxc"));
    let lxc_first = (n / 2 + n % 2).min(lxc.len());
    let rest_first = (n / 2).min(rest.len());
    let mut lxc = lxc.into_iter();
    let mut rest = rest.into_iter();
    let mut out: Vec<FailedApp> = lxc.by_ref().take(lxc_first).collect();
    out.extend(rest.by_ref().take(rest_first));
    let room = n.saturating_sub(out.len());
    out.extend(lxc.take(room));
    let room = n.saturating_sub(out.len());
    out.extend(rest.take(room));
    out
}

async fn dashboard_of(docs: &Documents, meta: Meta) -> Result<Dashboard, ApiError> {
    let everything = docs
        .meta(Scope {
            window: Window::last(None),
            repo: Repo::All,
            platform: Platform::All,
        })
        .await?;
    let (summary, all_time, apps, daily, os, pve, hardware, errors, types) = tokio::try_join!(
        docs.summary(meta.clone()),
        docs.summary(everything),
        docs.apps(meta.clone()),
        docs.daily(meta.clone()),
        docs.breakdown(meta.clone(), Dimension::Os),
        docs.breakdown(meta.clone(), Dimension::Pve),
        docs.hardware(meta.clone()),
        docs.errors(meta.clone()),
        docs.top_of_apps(&meta, Dimension::Type),
    )?;
    let counts = summary.counts;
    let kind = |nsapp: &str| types.get(nsapp).map(|(kind, _)| kind.clone());

    let mut per_os: BTreeMap<String, u64> = BTreeMap::new();
    for g in &os.published.groups {
        // "debian 12": the OS, then its version.
        let os_type = g.value.split(' ').next().unwrap_or_default().to_owned();
        *per_os.entry(os_type).or_default() += g.counts.finished();
    }
    let dimension = |name: &str| hardware.dimensions.get(name).map(|p| p.groups.as_slice());
    let finished_by = |name: &str| {
        dimension(name)
            .unwrap_or_default()
            .iter()
            .map(|g| (g.value.clone(), g.counts.finished()))
            .collect::<Vec<_>>()
    };
    let runs_by_type = dimension("type")
        .unwrap_or_default()
        .iter()
        .map(|g| (g.value.clone(), g.counts.runs));

    let error_analysis = {
        let mut groups: Vec<ErrorGroup> = errors
            .patterns
            .groups
            .iter()
            .filter(|p| p.counts.failed > 0)
            .map(|p| ErrorGroup {
                pattern: p.pattern.clone(),
                count: p.counts.failed,
                unique_apps: Unpublished,
                apps: p
                    .apps
                    .iter()
                    .map(|a| a.nsapp.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
            .collect();
        groups.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.pattern.cmp(&b.pattern))
        });
        groups.truncate(15);
        nil(groups)
    };

    let failing: Vec<FailedApp> = apps
        .apps
        .iter()
        .filter(|a| a.counts.failed > 0 && a.counts.finished() >= apps.min_runs)
        .map(|a| FailedApp {
            app: a.nsapp.clone(),
            kind: kind(&a.nsapp),
            total_count: a.counts.runs,
            failed_count: a.counts.failed,
            failure_rate: percent(a.counts.failed, a.counts.runs),
        })
        .collect();

    let of_types = |wanted: &[&str]| {
        apps.apps
            .iter()
            .filter(|a| kind(&a.nsapp).is_some_and(|k| wanted.contains(&k.as_str())))
            .map(|a| (a.nsapp.clone(), a.counts.runs))
            .collect::<Vec<_>>()
    };
    let top_tools = top("tool", of_types(&["pve", "tool"]), 15);
    let top_addons = top("addon", of_types(&["addon"]), 15);
    let total = |list: &Option<Vec<Counted>>| list.iter().flatten().map(|c| c.count).sum();

    let days: BTreeMap<String, (u64, u64)> = daily
        .days
        .iter()
        .map(|d| (d.day.clone(), (d.counts.success, d.counts.failed)))
        .collect();
    let daily_stats = every_day(meta.window, days)
        .into_iter()
        .map(|(date, counts)| DailyStat {
            date,
            success: counts.map(|c| c.0),
            failed: counts.map(|c| c.1),
        })
        .collect();

    Ok(Dashboard {
        total_installs: counts.map(|c| c.runs),
        total_all_time: all_time.counts.map(|c| c.runs),
        sample_size: counts.map(|c| c.runs),
        success_count: counts.map(|c| c.success),
        failed_count: counts.map(|c| c.failed),
        aborted_count: counts.map(|c| c.aborted),
        installing_count: counts.map(|c| c.unfinished + c.in_progress),
        success_rate: counts.map(|c| percent(c.success, c.success + c.failed)),
        top_apps: top(
            "app",
            apps.apps.iter().map(|a| (a.nsapp.clone(), a.counts.runs)),
            20,
        ),
        os_distribution: top("os", per_os, 15),
        method_stats: top("method", finished_by("method"), 10),
        pve_versions: top(
            "version",
            pve.published
                .groups
                .iter()
                .map(|g| (g.value.clone(), g.counts.finished())),
            15,
        ),
        type_stats: top("type", runs_by_type, 10),
        error_analysis,
        failed_apps: balance(failing, 16),
        recent_records: Unpublished,
        daily_stats,
        gpu_stats: Unpublished,
        error_categories: top(
            "category",
            errors
                .categories
                .groups
                .iter()
                .filter(|c| c.value != "user_aborted")
                .map(|c| (c.value.clone(), c.counts.failed)),
            usize::MAX,
        ),
        total_tools: total(&top_tools),
        total_addons: total(&top_addons),
        top_tools,
        top_addons,
        avg_install_duration: Unpublished,
        repo_slugs: Unpublished,
    })
}

/// `GET /api/scripts`: the old `ScriptAnalysisData`, from the apps document.
#[derive(Debug, Serialize)]
struct Scripts {
    total_scripts: usize,
    /// The runs of the scripts listed; the apps the apps document folds into `other`
    /// are not scripts of their own here.
    total_installs: u64,
    /// Every app the apps document lists, most runs first.
    top_scripts: Option<Vec<Script>>,
    /// Always `null`, in the old service too.
    recent_scripts: Unpublished,
}

#[derive(Debug, Serialize)]
struct Script {
    app: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Runs: `success + failed + aborted + installing`.
    total: u64,
    success: u64,
    failed: u64,
    aborted: u64,
    /// Runs without a terminal status (unfinished and in progress); the old service
    /// never filled it (0).
    installing: u64,
    /// success / (success + failed + aborted) × 100, the old formula.
    success_rate: f64,
    /// Never filled in the old service either.
    days_old: u32,
    /// Runs per day of the window (`runs_per_day` of the apps document); the old
    /// service never filled it.
    installs_per_day: f64,
}

async fn scripts_of(docs: &Documents, meta: Meta) -> Result<Scripts, ApiError> {
    let (apps, types) = tokio::try_join!(
        docs.apps(meta.clone()),
        docs.top_of_apps(&meta, Dimension::Type)
    )?;
    let scripts: Vec<Script> = apps
        .apps
        .into_iter()
        .map(|a| Script {
            kind: types.get(&a.nsapp).map(|(kind, _)| kind.clone()),
            app: a.nsapp,
            total: a.counts.runs,
            success: a.counts.success,
            failed: a.counts.failed,
            aborted: a.counts.aborted,
            installing: a.counts.unfinished + a.counts.in_progress,
            success_rate: percent(a.counts.success, a.counts.finished()),
            days_old: 0,
            installs_per_day: a.runs_per_day,
        })
        .collect();
    Ok(Scripts {
        total_scripts: scripts.len(),
        total_installs: scripts.iter().map(|s| s.total).sum(),
        top_scripts: nil(scripts),
        recent_scripts: Unpublished,
    })
}

/// `GET /api/errors`: the old `ErrorAnalysisData`, from the errors document. An error
/// is a failed run (the old counted failed events outside `user_aborted` with an exit
/// code; ingest already calls a run with exit code 0 a success and an interrupted one
/// aborted).
#[derive(Debug, Serialize)]
struct ErrorAnalysis {
    total_errors: Option<u64>,
    total_installs: Option<u64>,
    /// total_errors / total_installs × 100, the old formula (over all runs).
    overall_fail_rate: Option<f64>,
    /// Failed runs per exit code, the 30 most, with the meaning and category of the
    /// client's table.
    exit_code_stats: Option<Vec<ExitCodeStat>>,
    /// Failed runs per category, `user_aborted` left out.
    category_stats: Option<Vec<CategoryStat>>,
    /// The 50 apps with the most failed runs.
    app_errors: Option<Vec<AppError>>,
    /// Per-install records, with their error texts, are not published (docs/ROPA.md).
    recent_errors: Unpublished,
    /// Runs of the window that never sent a terminal status; the old counted today's
    /// open rows, and today is never public.
    stuck_installing: Option<u64>,
    /// Every day of the window, oldest first; a day withheld below k is `null`.
    error_timeline: Vec<TimelineDay>,
}

#[derive(Debug, Serialize)]
struct ExitCodeStat {
    exit_code: i64,
    count: u64,
    description: String,
    category: String,
    percentage: f64,
}

#[derive(Debug, Serialize)]
struct CategoryStat {
    category: String,
    count: u64,
    percentage: f64,
    /// Up to five apps with k runs in the category, joined with ", ".
    top_apps: String,
}

#[derive(Debug, Serialize)]
struct AppError {
    app: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Finished runs, as the old counted terminal events.
    total_count: u64,
    failed_count: u64,
    /// Every aborted run (the old counted those outside `user_aborted` only).
    aborted_count: u64,
    /// failed / total_count × 100.
    failure_rate: f64,
    /// The most common exit code of the app's failed and aborted runs, as its document
    /// publishes it; 0 when it publishes none.
    top_exit_code: i64,
    /// The app's most common error pattern (a masked text, never one as sent); "" when
    /// its document publishes none.
    top_error: String,
    /// Its most common error category among failed and aborted runs; "" when none.
    top_category: String,
}

#[derive(Debug, Serialize)]
struct TimelineDay {
    date: String,
    failed: Option<u64>,
    /// Aborted runs of the day (the old service never filled it).
    aborted: Option<u64>,
}

/// What the old service said of a code outside its table.
fn unknown_exit_code(code: i64) -> String {
    if (129..192).contains(&code) {
        format!("Killed by signal {}", code - 128)
    } else {
        format!("Unknown (exit code {code})")
    }
}

async fn errors_of(docs: &Documents, meta: Meta) -> Result<ErrorAnalysis, ApiError> {
    let (errors, apps, types) = tokio::try_join!(
        docs.errors(meta.clone()),
        docs.apps(meta.clone()),
        docs.top_of_apps(&meta, Dimension::Type),
    )?;
    let totals = errors.totals;
    let failed = totals.map_or(0, |t| t.failed);

    let mut exit_codes: Vec<ExitCodeStat> = errors
        .exit_codes
        .groups
        .iter()
        .filter(|g| g.counts.failed > 0)
        .filter_map(|g| {
            let code: i64 = g.value.parse().ok()?;
            Some(ExitCodeStat {
                exit_code: code,
                count: g.counts.failed,
                description: g
                    .meaning
                    .map_or_else(|| unknown_exit_code(code), str::to_owned),
                category: g.category.unwrap_or("unknown").to_owned(),
                percentage: percent(g.counts.failed, failed),
            })
        })
        .collect();
    exit_codes.sort_by(|a, b| b.count.cmp(&a.count).then(a.exit_code.cmp(&b.exit_code)));
    exit_codes.truncate(30);

    let mut categories: Vec<CategoryStat> = errors
        .categories
        .groups
        .iter()
        .filter(|c| c.value != "user_aborted" && c.counts.failed > 0)
        .map(|c| CategoryStat {
            category: c.value.clone(),
            count: c.counts.failed,
            percentage: percent(c.counts.failed, failed),
            top_apps: c
                .top_apps
                .iter()
                .map(|a| a.nsapp.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    categories.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| a.category.cmp(&b.category))
    });

    let finished_of: BTreeMap<&str, u64> = apps
        .apps
        .iter()
        .map(|a| (a.nsapp.as_str(), a.counts.finished()))
        .collect();
    let mut app_errors: Vec<AppError> = errors
        .apps
        .iter()
        .map(|a| {
            let total = finished_of
                .get(a.nsapp.as_str())
                .copied()
                .unwrap_or(a.failed + a.aborted);
            AppError {
                app: a.nsapp.clone(),
                kind: types.get(&a.nsapp).map(|(kind, _)| kind.clone()),
                total_count: total,
                failed_count: a.failed,
                aborted_count: a.aborted,
                failure_rate: percent(a.failed, total),
                top_exit_code: a
                    .top_exit_code
                    .as_ref()
                    .and_then(|t| t.value.parse().ok())
                    .unwrap_or(0),
                top_error: a
                    .top_pattern
                    .as_ref()
                    .map(|t| t.value.clone())
                    .unwrap_or_default(),
                top_category: a
                    .top_category
                    .as_ref()
                    .map(|t| t.value.clone())
                    .unwrap_or_default(),
            }
        })
        .collect();
    app_errors.sort_by(|a, b| {
        b.failed_count
            .cmp(&a.failed_count)
            .then_with(|| a.app.cmp(&b.app))
    });
    app_errors.truncate(50);

    let days: BTreeMap<String, (u64, u64)> = errors
        .days
        .iter()
        .map(|d| (d.day.clone(), (d.failed, d.aborted)))
        .collect();
    let error_timeline = every_day(meta.window, days)
        .into_iter()
        .map(|(date, counts)| TimelineDay {
            date,
            failed: counts.map(|c| c.0),
            aborted: counts.map(|c| c.1),
        })
        .collect();

    Ok(ErrorAnalysis {
        total_errors: totals.map(|t| t.failed),
        total_installs: totals.map(|t| t.runs),
        overall_fail_rate: totals.map(|t| percent(t.failed, t.runs)),
        exit_code_stats: nil(exit_codes),
        category_stats: nil(categories),
        app_errors: nil(app_errors),
        recent_errors: Unpublished,
        stuck_installing: totals.map(|t| t.unfinished + t.in_progress),
        error_timeline,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every old route is in the OpenAPI document, deprecated.
    #[test]
    fn the_openapi_document_lists_every_old_route_as_deprecated() {
        let doc: serde_json::Value = serde_json::from_str(crate::openapi::DOCUMENT).expect("JSON");
        for (path, _) in ROUTES {
            assert_eq!(doc["paths"][path]["get"]["deprecated"], true, "{path}");
        }
    }

    fn query(days: Option<&str>, repo: Option<&str>) -> OldQuery {
        OldQuery {
            days: days.map(str::to_owned),
            repo: repo.map(str::to_owned),
        }
    }

    fn window(old: Old, days: Option<&str>) -> Option<Option<u32>> {
        query(days, None).scope(old).ok().map(|s| s.window.days)
    }

    #[test]
    fn the_old_days_are_answered_from_the_smallest_window_that_covers_them() {
        for (days, want) in [
            ("1", Some(1)),
            ("2", Some(7)),
            ("3", Some(7)),
            ("7", Some(7)),
            ("8", Some(30)),
            ("30", Some(30)),
            ("31", Some(90)),
            ("90", Some(90)),
            ("91", Some(365)),
            ("365", Some(365)),
            ("9999", Some(365)),
            ("-4", Some(1)),
        ] {
            assert_eq!(window(Old::Dashboard, Some(days)), Some(want), "{days}");
        }
        // Each endpoint's own default and its own reading of 0.
        assert_eq!(window(Old::Dashboard, None), Some(Some(1)));
        assert_eq!(window(Old::Dashboard, Some("")), Some(Some(1)));
        assert_eq!(window(Old::Dashboard, Some("0")), Some(Some(365)));
        assert_eq!(window(Old::Scripts, None), Some(Some(30)));
        assert_eq!(window(Old::Scripts, Some("0")), Some(None));
        assert_eq!(window(Old::Scripts, Some("-1")), Some(Some(1)));
        assert_eq!(window(Old::Errors, None), Some(Some(7)));
        assert_eq!(window(Old::Errors, Some("0")), Some(Some(1)));
        assert_eq!(window(Old::RepoSlugs, None), Some(Some(30)));
        assert_eq!(window(Old::RepoSlugs, Some("0")), Some(Some(1)));
        for bad in ["abc", "7abc", "7.5", "all", "30d", " 7"] {
            assert!(
                matches!(
                    query(Some(bad), None).scope(Old::Dashboard),
                    Err(ApiError::BadOldDays)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_old_repositories_are_ours() {
        for (repo, want) in [
            (None, Repo::Production),
            (Some(""), Repo::Production),
            (Some("ProxmoxVE"), Repo::Production),
            (Some("ProxmoxVED"), Repo::Development),
            (Some("external"), Repo::External),
            (Some("all"), Repo::All),
            (Some("development"), Repo::Development),
        ] {
            assert_eq!(
                query(None, repo).scope(Old::Errors).ok().map(|s| s.repo),
                Some(want),
                "{repo:?}"
            );
        }
        for bad in ["foo", "proxmoxve", "ALL", "ProxmoxVE "] {
            assert!(
                matches!(
                    query(None, Some(bad)).scope(Old::Errors),
                    Err(ApiError::BadOldRepo)
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn every_answer_names_its_successor() {
        let q = query(Some("7"), Some("ProxmoxVED"));
        assert_eq!(
            q.successor(Old::Dashboard),
            "/v1/stats/summary?days=7&repo=development"
        );
        assert_eq!(
            query(Some("0"), None).successor(Old::Scripts),
            "/v1/stats/apps?days=all&repo=production"
        );
        assert_eq!(
            query(None, None).successor(Old::Errors),
            "/v1/stats/errors?days=7&repo=production"
        );
        assert_eq!(
            query(None, None).successor(Old::ExitCodes),
            "/v1/stats/errors"
        );
        assert_eq!(
            query(Some("x"), None).successor(Old::Dashboard),
            "/v1/stats/summary"
        );
        assert_eq!(
            query(Some("45"), Some("all")).successor(Old::ErrorPage),
            "/#/errors?repo=all&days=90"
        );
        assert_eq!(
            query(None, None).successor(Old::DashboardPage),
            "/#/overview"
        );
        assert_eq!(
            query(Some("0"), None).successor(Old::ScriptPage),
            "/#/scripts?days=all"
        );
        assert_eq!(DEPRECATED_AT.unix_timestamp(), 1_796_083_200);
        for (path, _) in ROUTES {
            assert!(is_old_route(path), "{path}");
        }
        assert!(!is_old_route("/v1/stats/summary"));
    }

    #[test]
    fn the_failure_ranking_balances_lxc_and_the_rest_as_the_old_one_did() {
        let app = |name: &str, kind: &str, rate: f64| FailedApp {
            app: name.to_owned(),
            kind: Some(kind.to_owned()),
            total_count: 100,
            failed_count: rate as u64,
            failure_rate: rate,
        };
        let mut apps: Vec<FailedApp> = (0..12)
            .map(|i| app(&format!("ct{i:02}"), "lxc", 50.0 - f64::from(i)))
            .collect();
        apps.extend((0..3).map(|i| app(&format!("vm{i}"), "vm", 10.0 - f64::from(i))));
        let names: Vec<String> = balance(apps, 8).into_iter().map(|a| a.app).collect();
        // Four LXC, the three others, then the next LXC for the empty slot.
        assert_eq!(
            names,
            ["ct00", "ct01", "ct02", "ct03", "vm0", "vm1", "vm2", "ct04"]
        );
    }

    #[test]
    fn a_series_has_every_day_of_the_window_and_nulls_for_the_days_withheld() {
        let w = Window {
            days: Some(3),
            until: time::macros::date!(2026 - 03 - 02),
        };
        let published = BTreeMap::from([("2026-03-01".to_owned(), 5u64)]);
        assert_eq!(
            every_day(w, published),
            [
                ("2026-02-28".to_owned(), None),
                ("2026-03-01".to_owned(), Some(5)),
                ("2026-03-02".to_owned(), None),
            ]
        );
    }

    #[test]
    fn unpublished_fields_are_null_and_empty_lists_too() {
        let v = serde_json::to_value(RepoSlugs {
            repo_slugs: Unpublished,
        })
        .unwrap_or_default();
        assert_eq!(v, serde_json::json!({"repo_slugs": null}));
        assert!(top("app", [("a".to_owned(), 0)], 5).is_none());
        let row = serde_json::to_string(&Counted {
            key: "os",
            value: "debian".into(),
            count: 3,
        })
        .unwrap_or_default();
        assert_eq!(row, r#"{"os":"debian","count":3}"#);
        assert_eq!(unknown_exit_code(300), "Unknown (exit code 300)");
        assert_eq!(unknown_exit_code(137), "Killed by signal 9");
    }
}

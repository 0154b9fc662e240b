//! docs/analysts.md read as data: its cookbook of queries and its schema reference, and
//! the analysts' limits from the users file; for the tests that hold the document to the
//! database, and for `bench analysts`, which runs the cookbook over a year.

use crate::workspace_root;

/// The document, as the tests and the bench read it.
pub fn document() -> String {
    std::fs::read_to_string(workspace_root().join("docs/analysts.md")).expect("docs/analysts.md")
}

/// The cookbook's queries: (id, SQL), in the document's order. Each is a ```sql block of
/// the "Cookbook" section whose first line is `-- cookbook: <id>`.
pub fn cookbook(doc: &str) -> Vec<(String, String)> {
    let section = doc
        .split("\n## Cookbook\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a Cookbook section");
    let mut out = Vec::new();
    let mut block: Option<Vec<&str>> = None;
    for line in section.lines() {
        match (&mut block, line) {
            (None, "```sql") => block = Some(Vec::new()),
            (Some(lines), "```") => {
                let sql = lines.join("\n");
                let id = lines
                    .first()
                    .and_then(|l| l.strip_prefix("-- cookbook: "))
                    .unwrap_or_else(|| panic!("a query without its id:\n{sql}"))
                    .to_owned();
                out.push((id, sql));
                block = None;
            }
            (Some(lines), l) => lines.push(l),
            _ => {}
        }
    }
    out
}

/// The schema reference's table of `relation`: (column, type), in order.
pub fn documented(doc: &str, relation: &str) -> Vec<(String, String)> {
    let reference = doc
        .split("\n## Schema reference\n")
        .nth(1)
        .expect("a Schema reference section");
    let heading = format!("### `{relation}`\n");
    let section = reference
        .split(&heading)
        .nth(1)
        .unwrap_or_else(|| panic!("no section for {relation}"))
        .split("\n### ")
        .next()
        .unwrap_or_default();
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].trim_matches('`').to_owned(),
                cells[2].trim_matches('`').to_owned(),
            )
        })
        .collect()
}

/// A profile of compose/clickhouse/users.d/telemetry.xml, as text: its settings, then
/// its `<constraints>`.
fn profile(name: &str) -> (String, String) {
    let users =
        std::fs::read_to_string(workspace_root().join("compose/clickhouse/users.d/telemetry.xml"))
            .expect("the users file");
    let block = users
        .split(&format!("<{name}>"))
        .nth(1)
        .and_then(|b| b.split(&format!("</{name}>")).next())
        .unwrap_or_else(|| panic!("no profile {name}"));
    let (settings, constraints) = block.split_once("<constraints>").unwrap_or((block, ""));
    (settings.to_owned(), constraints.to_owned())
}

/// The settings of a profile, without `readonly` and the constraints: (name, value).
/// What `bench analysts` runs the cookbook under, as the analyst's login would.
pub fn profile_settings(name: &str) -> Vec<(String, String)> {
    profile(name)
        .0
        .lines()
        .map(str::trim)
        .filter_map(|l| {
            let setting = l.strip_prefix('<')?.split('>').next()?;
            let value = l
                .strip_prefix(&format!("<{setting}>"))?
                .strip_suffix(&format!("</{setting}>"))?;
            (setting != "readonly").then(|| (setting.to_owned(), value.to_owned()))
        })
        .collect()
}

/// `<max>` of `setting`'s constraint in a profile.
pub fn constraint_max(name: &str, setting: &str) -> u64 {
    let constraints = profile(name).1;
    constraints
        .split(&format!("<{setting}>"))
        .nth(1)
        .unwrap_or_else(|| panic!("{setting} is not constrained in {name}"))
        .split("<max>")
        .nth(1)
        .and_then(|m| m.split("</max>").next())
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("{setting} has no <max> in {name}"))
}

//! The table `wk-bench peer` prints: one row per peer instance, then the medians over the
//! rounds and their ratios (Watchkeeper / Alertmanager).

use serde_json::{Value, json};

/// The figures compared, as (column, JSON pointer into one result).
const FIGURES: [(&str, &str); 8] = [
    ("100/s p50 ms", "/rates/0/latency/p50_ms"),
    ("100/s p99 ms", "/rates/0/latency/p99_ms"),
    ("1,000/s p50 ms", "/rates/1/latency/p50_ms"),
    ("1,000/s p99 ms", "/rates/1/latency/p99_ms"),
    ("max accepted/s", "/max/accepted_per_s"),
    ("max delivered/s", "/max/delivered_per_s"),
    ("at in flight", "/max/concurrency"),
    ("bytes per open alert", "/bytes_per_open_alert"),
];

pub(crate) fn header() {
    let columns: Vec<&str> = FIGURES.iter().map(|(column, _)| *column).collect();
    println!(
        "| round | peer | {} | CPU ms per alert at the best | never arrived | errors |",
        columns.join(" | ")
    );
    println!("|---|---|{}---|---|---|", "---|".repeat(FIGURES.len()));
}

fn figure(result: &Value, pointer: &str) -> Option<f64> {
    result.pointer(pointer).and_then(Value::as_f64)
}

fn cell(value: Option<f64>) -> String {
    match value {
        Some(value) if value >= 100.0 || value.fract() == 0.0 => format!("{value:.0}"),
        Some(value) => format!("{value:.2}"),
        None => "?".to_owned(),
    }
}

/// CPU milliseconds per alert delivered at the peer's best, by process, then all of them
/// together (`api 0.21, …, all 0.52`): the machine's cores divided by the last are the most
/// alerts a second this machine could deliver with that peer and this load generator.
fn cpu_text(result: &Value) -> String {
    let Some(processes) = result
        .pointer("/max/cpu_ms_per_alert")
        .and_then(Value::as_object)
    else {
        return String::new();
    };
    let each: Vec<(&String, f64)> = processes
        .iter()
        .filter_map(|(process, ms)| Some((process, ms.as_f64()?)))
        .collect();
    let all: f64 = each.iter().map(|(_, ms)| ms).sum();
    let mut text: Vec<String> = each
        .iter()
        .map(|(process, ms)| format!("{process} {ms:.3}"))
        .collect();
    text.push(format!("all {all:.3}"));
    text.join(", ")
}

pub(crate) fn row(result: &Value) {
    let cells: Vec<String> = FIGURES
        .iter()
        .map(|(_, pointer)| cell(figure(result, pointer)))
        .collect();
    let count = |value: &Value, key: &str| value.get(key).and_then(Value::as_u64).unwrap_or(0);
    let phases: Vec<&Value> = ["rates", "max_by_concurrency"]
        .iter()
        .filter_map(|key| result.get(*key).and_then(Value::as_array))
        .flatten()
        .collect();
    let never: u64 = phases
        .iter()
        .map(|phase| match phase.get("never_arrived") {
            Some(never) => never.as_u64().unwrap_or(0),
            None => count(phase, "sent").saturating_sub(count(phase, "delivered")),
        })
        .sum();
    let errors: u64 = phases
        .iter()
        .filter_map(|phase| phase.get("errors").and_then(Value::as_object))
        .flat_map(|errors| errors.values().filter_map(Value::as_u64))
        .sum();
    println!(
        "| {} | {} | {} | {} | {never} | {errors} |",
        result["round"],
        result["peer"].as_str().unwrap_or("?"),
        cells.join(" | "),
        cpu_text(result)
    );
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        length if length % 2 == 1 => values.get(middle).copied(),
        _ => Some((values.get(middle - 1)? + values.get(middle)?) / 2.0),
    }
}

/// Each figure's median over the rounds for either peer, and Watchkeeper's over
/// Alertmanager's; prints them as the table's last rows.
pub(crate) fn ratios(results: &[Value]) -> Value {
    let of = |peer: &str, pointer: &str| {
        median(
            results
                .iter()
                .filter(|result| result["peer"] == peer)
                .filter_map(|result| figure(result, pointer))
                .collect(),
        )
    };
    let mut medians = Vec::new();
    let (mut alertmanager_cells, mut watchkeeper_cells, mut ratio_cells) =
        (Vec::new(), Vec::new(), Vec::new());
    for (column, pointer) in FIGURES {
        let (alertmanager, watchkeeper) = (of("alertmanager", pointer), of("watchkeeper", pointer));
        let ratio = alertmanager
            .zip(watchkeeper)
            .filter(|(alertmanager, _)| *alertmanager > 0.0)
            .map(|(alertmanager, watchkeeper)| watchkeeper / alertmanager);
        if pointer == "/max/concurrency" {
            // Each round's best may differ; the rows above say which it was.
            alertmanager_cells.push(String::new());
            watchkeeper_cells.push(String::new());
        } else {
            alertmanager_cells.push(cell(alertmanager));
            watchkeeper_cells.push(cell(watchkeeper));
        }
        ratio_cells.push(match ratio {
            // How many requests were in flight is a setting, not a figure to compare.
            _ if pointer == "/max/concurrency" => String::new(),
            Some(ratio) => format!("{ratio:.2}×"),
            None => "?".to_owned(),
        });
        medians.push(json!({
            "figure": column,
            "alertmanager": alertmanager,
            "watchkeeper": watchkeeper,
            "watchkeeper_over_alertmanager": ratio,
        }));
    }
    println!(
        "| median | alertmanager | {} | | | |",
        alertmanager_cells.join(" | ")
    );
    println!(
        "| median | watchkeeper | {} | | | |",
        watchkeeper_cells.join(" | ")
    );
    println!(
        "| ratio | watchkeeper / alertmanager | {} | | | |",
        ratio_cells.join(" | ")
    );
    println!();
    Value::Array(medians)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_even_and_no_rounds() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn cpu_per_alert_is_listed_by_process_and_summed() {
        let result = json!({"max": {"cpu_ms_per_alert": {
            "api": 0.1, "broker": 0.25, "load_and_receiver": 0.05,
        }}});
        assert_eq!(
            cpu_text(&result),
            "api 0.100, broker 0.250, load_and_receiver 0.050, all 0.400"
        );
        assert_eq!(cpu_text(&json!({})), "");
    }

    #[test]
    fn ratios_are_watchkeeper_over_alertmanager_per_figure() {
        let result = |peer: &str, delivered: f64| json!({"peer": peer, "round": 1, "max": {"delivered_per_s": delivered}});
        let medians = ratios(&[
            result("alertmanager", 2000.0),
            result("watchkeeper", 5000.0),
            result("alertmanager", 3000.0),
            result("watchkeeper", 4000.0),
        ]);
        let delivered = medians
            .as_array()
            .and_then(|figures| {
                figures
                    .iter()
                    .find(|figure| figure["figure"] == "max delivered/s")
            })
            .cloned()
            .unwrap_or_default();
        assert_eq!(delivered["alertmanager"], 2500.0);
        assert_eq!(delivered["watchkeeper"], 4500.0);
        assert_eq!(delivered["watchkeeper_over_alertmanager"], 1.8);
        // A figure neither result has is unknown, not zero.
        let p50 = medians.get(0).cloned().unwrap_or_default();
        assert!(p50["watchkeeper_over_alertmanager"].is_null());
    }
}

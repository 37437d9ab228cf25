//! Least-squares slope of RSS samples, and the warm-up rule.

use std::time::Duration;

/// The slope (units of `y` per unit of `x`) of the least-squares line
/// through `points`; `None` with fewer than two distinct `x`.
pub fn least_squares(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    (sxx > 0.0).then(|| sxy / sxx)
}

/// The standard error of that slope (from the residuals; `None` with
/// fewer than three points).
pub fn standard_error(points: &[(f64, f64)]) -> Option<f64> {
    let k = least_squares(points)?;
    if points.len() < 3 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let rss: f64 = points
        .iter()
        .map(|p| {
            let r = p.1 - (my + k * (p.0 - mx));
            r * r
        })
        .sum();
    Some((rss / (n - 2.0) / sxx).sqrt())
}

/// The warm-up excluded from the fit: 20 % of the run, at most 2 minutes.
pub fn warm_up(duration: Duration) -> Duration {
    (duration / 5).min(Duration::from_secs(120))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line_and_of_noise() {
        let line: Vec<(f64, f64)> = (0..10).map(|i| (i as f64, 3.0 * i as f64 + 7.0)).collect();
        assert!((least_squares(&line).unwrap() - 3.0).abs() < 1e-9);
        let flat = [(0.0, 5.0), (1.0, 6.0), (2.0, 5.0), (3.0, 6.0)];
        assert!((least_squares(&flat).unwrap() - 0.2).abs() < 1e-9);
        assert_eq!(least_squares(&[(1.0, 2.0)]), None);
        assert_eq!(least_squares(&[(1.0, 2.0), (1.0, 3.0)]), None);
        assert!(standard_error(&line).unwrap() < 1e-6);
        let se = standard_error(&flat).unwrap();
        assert!(se > 0.1 && se < 1.0, "{se}");
    }

    #[test]
    fn warm_up_is_a_fifth_up_to_two_minutes() {
        assert_eq!(warm_up(Duration::from_secs(90)), Duration::from_secs(18));
        assert_eq!(warm_up(Duration::from_secs(1800)), Duration::from_secs(120));
    }
}

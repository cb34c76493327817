//! Latency percentiles from recorded samples.

use std::time::Duration;

#[derive(Debug, Default)]
pub struct Samples {
    micros: Vec<u64>,
}

impl Samples {
    pub fn record(&mut self, elapsed: Duration) {
        self.micros.push(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX));
    }

    pub fn extend(&mut self, other: Samples) {
        self.micros.extend(other.micros);
    }

    pub fn len(&self) -> usize {
        self.micros.len()
    }

    /// The largest sample in milliseconds.
    pub fn max_ms(&self) -> f64 {
        self.micros.iter().max().map_or(0.0, |&us| us as f64 / 1000.0)
    }

    /// The `q`-quantile (0..=1) in milliseconds.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.micros.is_empty() {
            return 0.0;
        }
        self.micros.sort_unstable();
        let index = ((self.micros.len() - 1) as f64 * q).round() as usize;
        self.micros[index.min(self.micros.len() - 1)] as f64 / 1000.0
    }
}

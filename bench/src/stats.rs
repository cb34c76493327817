//! Latency percentiles from recorded samples.

use std::time::Duration;

#[derive(Debug, Default, Clone)]
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

/// Latency samples grouped by the second of the run their message was sent
/// in: shows whether a tail is spread over the run or comes from one moment
/// (the start, a checkpoint), and lets a warm-up be left out.
#[derive(Debug, Default, Clone)]
pub struct BySecond {
    seconds: Vec<Samples>,
}

impl BySecond {
    /// A sample of a message sent `sent_at` after the run began.
    pub fn record(&mut self, sent_at: Duration, elapsed: Duration) {
        let second = usize::try_from(sent_at.as_secs()).unwrap_or(usize::MAX);
        self.second(second).record(elapsed);
    }

    pub fn extend(&mut self, other: BySecond) {
        for (second, samples) in other.seconds.into_iter().enumerate() {
            self.second(second).extend(samples);
        }
    }

    /// Every sample of messages sent from second `from` on.
    pub fn since(&self, from: usize) -> Samples {
        let mut all = Samples::default();
        for samples in self.seconds.iter().skip(from) {
            all.extend(samples.clone());
        }
        all
    }

    /// The `q`-quantile of each second in milliseconds (0 for a second without samples).
    pub fn quantile_ms_by_second(&mut self, q: f64) -> Vec<f64> {
        self.seconds.iter_mut().map(|samples| samples.quantile_ms(q)).collect()
    }

    fn second(&mut self, second: usize) -> &mut Samples {
        if self.seconds.len() <= second {
            self.seconds.resize_with(second + 1, Samples::default);
        }
        &mut self.seconds[second]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_kept_apart_by_the_second_they_were_sent_in() {
        let mut run = BySecond::default();
        run.record(Duration::from_millis(200), Duration::from_millis(90));
        run.record(Duration::from_millis(1500), Duration::from_millis(5));
        let mut other = BySecond::default();
        other.record(Duration::from_millis(2100), Duration::from_millis(7));
        run.extend(other);

        assert_eq!(run.quantile_ms_by_second(1.0), vec![90.0, 5.0, 7.0]);
        let mut after_first = run.since(1);
        assert_eq!((after_first.len(), after_first.quantile_ms(1.0)), (2, 7.0));
        assert_eq!(run.since(0).len(), 3);
    }
}

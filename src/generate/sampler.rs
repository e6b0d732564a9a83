//! Token sampling: OpenAI presence/frequency penalties, temperature, nucleus
//! (top-p) and greedy decoding.
//!
//! Everything after the penalties runs in f64 with `libm::exp` (not the
//! platform's libm) and draws with [`Rng::next_f64`], and every ordering is a
//! total order on (weight, index), so one seed gives the same tokens on every
//! target.

use super::rng::Rng;

/// How to pick tokens for one request. The fields follow the OpenAI chat API.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingParams {
    /// 0 (or below) decodes greedily; otherwise logits are divided by it.
    pub temperature: f32,
    /// Nucleus mass in [0, 1]; 1 keeps every token, 0 keeps only the likeliest.
    pub top_p: f32,
    /// Subtracted once from every token already generated in this answer.
    pub presence_penalty: f32,
    /// Subtracted once per earlier occurrence of a token in this answer.
    pub frequency_penalty: f32,
    pub seed: u64,
}

impl Default for SamplingParams {
    /// OpenAI's defaults, with seed 0.
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SamplingError {
    #[error("temperature must be a finite number >= 0, got {0}")]
    Temperature(f32),
    #[error("top_p must be between 0 and 1, got {0}")]
    TopP(f32),
    #[error("{name} must be a finite number, got {value}")]
    Penalty { name: &'static str, value: f32 },
}

impl SamplingParams {
    /// Rejects values the sampler cannot give a meaning to (NaN, infinities,
    /// negative temperature, top_p outside [0, 1]). Tighter API limits, such
    /// as OpenAI's temperature <= 2 and penalties in [-2, 2], are the caller's
    /// policy.
    pub fn validate(&self) -> Result<(), SamplingError> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(SamplingError::Temperature(self.temperature));
        }
        if !(0.0..=1.0).contains(&self.top_p) {
            return Err(SamplingError::TopP(self.top_p));
        }
        for (name, value) in [
            ("presence_penalty", self.presence_penalty),
            ("frequency_penalty", self.frequency_penalty),
        ] {
            if !value.is_finite() {
                return Err(SamplingError::Penalty { name, value });
            }
        }
        Ok(())
    }
}

/// Nucleus candidates are found through a histogram of the weights: a
/// weight's bucket is its f64 exponent and top 3 mantissa bits (buckets span a
/// factor 2^(1/8) and grow with the weight). Weights lie in (0, 1], so the
/// bucket of 1.0 is the last; all weights below 2^-64 share the first, since
/// even 151936 of them weigh too little to matter, and that keeps the
/// histogram small enough to clear on every call.
const BUCKET_SHIFT: u32 = 49;
const LOWEST_BUCKET: u64 = ((1023 - 64) << 52) >> BUCKET_SHIFT;
const BUCKETS: usize = ((1.0f64.to_bits() >> BUCKET_SHIFT) - LOWEST_BUCKET) as usize + 1;

fn bucket(weight: f64) -> usize {
    ((weight.to_bits() >> BUCKET_SHIFT).saturating_sub(LOWEST_BUCKET)) as usize
}

/// Sort key ordering by weight descending, then id ascending: positive f64
/// bits order like their values, and inverting them reverses that order.
fn nucleus_key(weight: f64, id: u32) -> u128 {
    (u128::from(!weight.to_bits()) << 32) | u128::from(id)
}

fn key_weight(key: u128) -> f64 {
    f64::from_bits(!((key >> 32) as u64))
}

/// Samples the tokens of one answer. Keep one per answer: it holds that
/// answer's random stream and the counts its penalties need.
#[derive(Clone, Debug)]
pub struct Sampler {
    params: SamplingParams,
    rng: Rng,
    /// (token id, times accepted), sorted by id: answers are short, so this
    /// stays small and penalties touch only these entries.
    counts: Vec<(u32, u32)>,
    /// Unnormalised softmax weights, one per logit; reused across calls.
    weights: Vec<f64>,
    /// Summed weight per histogram bucket; reused across calls.
    bucket_mass: Vec<f64>,
    /// Nucleus candidates as `nucleus_key`s, sorted; reused across calls.
    order: Vec<u128>,
}

impl Sampler {
    /// `stream` separates answers of one request (0 for the first answer, i
    /// for the i-th of n) so they draw independently from the one seed.
    pub fn new(params: SamplingParams, stream: u64) -> Self {
        let rng = Rng::derive(params.seed, stream);
        Self {
            params,
            rng,
            counts: Vec::new(),
            weights: Vec::new(),
            bucket_mass: Vec::new(),
            order: Vec::new(),
        }
    }

    /// Records a token of this answer for the penalties. `sample` does not
    /// do this itself, because the caller may discard or replace its pick.
    pub fn accept(&mut self, id: u32) {
        match self.counts.binary_search_by_key(&id, |&(t, _)| t) {
            Ok(k) => self.counts[k].1 += 1,
            Err(k) => self.counts.insert(k, (id, 1)),
        }
    }

    /// Picks the next token from `logits` (one per vocabulary entry).
    ///
    /// The penalties are applied to `logits` in place, so on return they hold
    /// the penalised values. Then, with temperature <= 0, the result is the
    /// greedy argmax (lowest index among ties). Otherwise the softmax of
    /// logits / temperature is cut to the nucleus: tokens sorted by
    /// probability descending, ties by index ascending, and the shortest
    /// prefix whose mass reaches top_p (at least one token). The draw walks
    /// that prefix in the same order; with top_p >= 1 nothing is cut or
    /// sorted and the draw walks all tokens in index order instead.
    ///
    /// NaN logits are never picked. If no logit is above -inf the result is
    /// the greedy one, index 0. Panics if `logits` is empty.
    pub fn sample(&mut self, logits: &mut [f32]) -> u32 {
        assert!(!logits.is_empty(), "cannot sample from an empty vocabulary");
        self.apply_penalties(logits);
        if self.params.temperature > 0.0
            && let Some(total) = self.fill_weights(logits)
        {
            return self.draw(total);
        }
        argmax(logits)
    }

    /// OpenAI semantics: logit -= count * frequency_penalty + presence_penalty
    /// for every token generated so far (count > 0 for all of them).
    fn apply_penalties(&self, logits: &mut [f32]) {
        let (frequency, presence) = (self.params.frequency_penalty, self.params.presence_penalty);
        if frequency == 0.0 && presence == 0.0 {
            return;
        }
        for &(id, count) in &self.counts {
            if let Some(logit) = logits.get_mut(id as usize) {
                *logit -= count as f32 * frequency + presence;
            }
        }
    }

    /// Fills `weights` with exp((logit - max) / temperature) and returns their
    /// sum (>= 1, as the maximum weighs exactly 1), or `None` when every logit
    /// is -inf or NaN. Weights stay in [0, 1] and never NaN whatever the
    /// input: the maximum is matched before subtracting (a +inf logit would
    /// give inf - inf), and -inf logits skip the division (an infinite
    /// temperature would give -inf / inf).
    fn fill_weights(&mut self, logits: &[f32]) -> Option<f64> {
        let max = logits
            .iter()
            .copied()
            .filter(|l| !l.is_nan())
            .fold(f32::NEG_INFINITY, f32::max);
        if max == f32::NEG_INFINITY {
            return None;
        }
        let (max64, temperature) = (f64::from(max), f64::from(self.params.temperature));
        let mut total = 0.0;
        self.weights.clear();
        self.weights.extend(logits.iter().map(|&l| {
            let w = if l == max {
                1.0
            } else if l.is_nan() || l == f32::NEG_INFINITY {
                0.0
            } else {
                libm::exp((f64::from(l) - max64) / temperature)
            };
            total += w;
            w
        }));
        Some(total)
    }

    fn draw(&mut self, total: f64) -> u32 {
        let u = self.rng.next_f64();
        if self.params.top_p >= 1.0 {
            return pick(&self.weights, 0..self.weights.len() as u32, u * total);
        }
        let (keep, kept) = self.nucleus(f64::from(self.params.top_p) * total);
        pick(
            &self.weights,
            self.order[..keep].iter().map(|&key| key as u32),
            u * kept,
        )
    }

    /// Sorts the likeliest tokens into `order` until their weight reaches
    /// `target`, returning how many are kept and their summed weight (summed
    /// in the order `pick` walks them, so the two agree exactly).
    ///
    /// Rather than sorting the whole vocabulary, the bucket histogram names
    /// the buckets that hold the target mass and only their tokens are
    /// sorted. Bucket sums are added in another order than the sorted walk,
    /// so rounding can leave that walk a hair short; then the remaining
    /// tokens, all lighter than those already sorted, follow.
    fn nucleus(&mut self, target: f64) -> (usize, f64) {
        let weights = &self.weights;
        let masses = &mut self.bucket_mass;
        masses.clear();
        masses.resize(BUCKETS, 0.0);
        for &w in weights {
            masses[bucket(w)] += w;
        }
        let mut floor = BUCKETS - 1;
        let mut approx = masses[floor];
        while approx < target && floor > 0 {
            floor -= 1;
            approx += masses[floor];
        }

        let order = &mut self.order;
        order.clear();
        let mut mass = 0.0;
        for buckets in [floor..BUCKETS, 0..floor] {
            let start = order.len();
            order.extend(
                weights
                    .iter()
                    .zip(0u32..)
                    .filter(|&(&w, _)| w > 0.0 && buckets.contains(&bucket(w)))
                    .map(|(&w, id)| nucleus_key(w, id)),
            );
            order[start..].sort_unstable();
            for (k, &key) in order[start..].iter().enumerate() {
                mass += key_weight(key);
                if mass >= target {
                    return (start + k + 1, mass);
                }
            }
        }
        // Rounding kept even the sum of all tokens under the target.
        (order.len(), mass)
    }
}

/// First id in walk order at which the running weight sum exceeds `target`.
/// If rounding put `target` at or past the final sum, the last id with a
/// positive weight is taken, so a zero-weight token is never returned.
fn pick(weights: &[f64], ids: impl Iterator<Item = u32>, target: f64) -> u32 {
    let mut mass = 0.0;
    let mut last = None;
    for id in ids {
        let w = weights[id as usize];
        if w > 0.0 {
            mass += w;
            if target < mass {
                return id;
            }
            last = Some(id);
        }
    }
    last.expect("the maximum logit always has weight 1")
}

/// Index of the largest logit, the lowest index among ties (as torch.argmax);
/// NaN is skipped, and index 0 is returned when nothing exceeds -inf.
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = (0, f32::NEG_INFINITY);
    for (i, &l) in logits.iter().enumerate() {
        if l > best.1 {
            best = (i, l);
        }
    }
    best.0 as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(temperature: f32, top_p: f32) -> SamplingParams {
        SamplingParams {
            temperature,
            top_p,
            seed: 1234,
            ..SamplingParams::default()
        }
    }

    /// Logits whose softmax at temperature 1 is `probs`.
    fn logits_for(probs: &[f64]) -> Vec<f32> {
        probs.iter().map(|p| p.ln() as f32).collect()
    }

    /// Empirical frequency of each id over `n` draws.
    fn frequencies(sampler: &mut Sampler, logits: &[f32], n: usize) -> Vec<f64> {
        let mut hits = vec![0usize; logits.len()];
        for _ in 0..n {
            hits[sampler.sample(&mut logits.to_vec()) as usize] += 1;
        }
        hits.iter().map(|&h| h as f64 / n as f64).collect()
    }

    fn assert_near(got: &[f64], want: &[f64], tol: f64) {
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= tol,
                "entry {i}: got {g}, want {w} (all: {got:?})"
            );
        }
    }

    #[test]
    fn greedy_takes_lowest_index_among_ties() {
        let mut s = Sampler::new(params(0.0, 1.0), 0);
        assert_eq!(s.sample(&mut [1.0, 3.0, 2.0, 3.0]), 1);
        assert_eq!(s.sample(&mut [5.0, 5.0, 5.0]), 0);
        assert_eq!(s.sample(&mut [-1.0, f32::NAN, -0.5, -0.5]), 2);
        assert_eq!(s.sample(&mut [f32::NEG_INFINITY; 3]), 0);
    }

    #[test]
    fn greedy_does_not_touch_the_rng() {
        let mut greedy = Sampler::new(params(0.0, 0.3), 0);
        for _ in 0..5 {
            assert_eq!(greedy.sample(&mut [0.1, 0.9, 0.5]), 1);
        }
        assert_eq!(greedy.rng.next_u64(), Rng::derive(1234, 0).next_u64());
    }

    #[test]
    fn temperature_scales_the_distribution() {
        // Probabilities 0.1..0.4 at T = 1. Dividing the logits by T raises each
        // probability to the power 1/T before renormalising:
        //   T = 0.5: (1, 4, 9, 16) / 30
        //   T = 2:   (1, √2, √3, 2) / (3 + √2 + √3)
        let logits = logits_for(&[0.1, 0.2, 0.3, 0.4]);
        let r2 = 2f64.sqrt();
        let r3 = 3f64.sqrt();
        let cases: [(f32, [f64; 4]); 3] = [
            (1.0, [0.1, 0.2, 0.3, 0.4]),
            (0.5, [1.0 / 30.0, 4.0 / 30.0, 9.0 / 30.0, 16.0 / 30.0]),
            (2.0, [1.0, r2, r3, 2.0].map(|x| x / (3.0 + r2 + r3))),
        ];
        for (t, want) in cases {
            let mut s = Sampler::new(params(t, 1.0), 0);
            let total = s.fill_weights(&logits).unwrap();
            let probs: Vec<f64> = s.weights.iter().map(|w| w / total).collect();
            // The logits were rounded to f32, hence the tolerance.
            assert_near(&probs, &want, 1e-6);
            assert_near(&frequencies(&mut s, &logits, 40_000), &want, 0.01);
        }
    }

    #[test]
    fn top_p_keeps_the_expected_nucleus() {
        let logits = logits_for(&[0.2, 0.4, 0.1, 0.3]);
        // Sorted: 1 (0.4), 3 (0.3), 0 (0.2), 2 (0.1).
        let cases: [(f32, [f64; 4]); 4] = [
            // 0.4 < 0.5 <= 0.7: keep {1, 3}, renormalised by 0.7.
            (0.5, [0.0, 4.0 / 7.0, 0.0, 3.0 / 7.0]),
            // 0.7 < 0.75 <= 0.9: keep {1, 3, 0}, renormalised by 0.9.
            (0.75, [2.0 / 9.0, 4.0 / 9.0, 0.0, 3.0 / 9.0]),
            // At least one token always survives.
            (0.0, [0.0, 1.0, 0.0, 0.0]),
            (1.0, [0.2, 0.4, 0.1, 0.3]),
        ];
        for (top_p, want) in cases {
            let mut s = Sampler::new(params(1.0, top_p), 0);
            let freq = frequencies(&mut s, &logits, 40_000);
            for (id, (f, w)) in freq.iter().zip(&want).enumerate() {
                if *w == 0.0 {
                    assert_eq!(*f, 0.0, "top_p {top_p}: id {id} is outside the nucleus");
                }
            }
            assert_near(&freq, &want, 0.01);
        }
    }

    #[test]
    fn large_nucleus_matches_a_full_sort() {
        // 1000 shuffled, distinct logits spread over many buckets: the
        // nucleus must equal the prefix of a full sort.
        let logits: Vec<f32> = (0..1000u32)
            .map(|i| ((i * 7919) % 1000) as f32 * -0.01)
            .collect();
        let mut s = Sampler::new(params(0.7, 0.9), 3);
        let total = s.fill_weights(&logits).unwrap();
        let (keep, kept) = s.nucleus(0.9 * total);

        let mut all: Vec<u32> = (0..1000).collect();
        all.sort_by(|a, b| {
            s.weights[*b as usize]
                .total_cmp(&s.weights[*a as usize])
                .then(a.cmp(b))
        });
        let mut mass = 0.0;
        let want = all.iter().position(|&i| {
            mass += s.weights[i as usize];
            mass >= 0.9 * total
        });
        assert_eq!(Some(keep - 1), want);
        assert!(keep > 100, "keep = {keep}");
        let kept_ids: Vec<u32> = s.order[..keep].iter().map(|&k| k as u32).collect();
        assert_eq!(kept_ids, all[..keep]);
        assert_eq!(kept, mass);

        for _ in 0..2000 {
            assert!(kept_ids.contains(&s.sample(&mut logits.clone())));
        }
    }

    #[test]
    fn buckets_grow_with_the_weight() {
        assert_eq!(BUCKETS, 513);
        assert_eq!(bucket(1.0), BUCKETS - 1);
        assert_eq!(bucket(0.5), BUCKETS - 9);
        assert_eq!(bucket(2f64.powi(-64)), 0);
        assert_eq!(bucket(1e-300), 0);
        assert_eq!(bucket(0.0), 0);
        let ws = [1e-19, 1e-10, 0.001, 0.3, 0.31, 0.5, 0.9, 1.0];
        assert!(ws.windows(2).all(|p| bucket(p[0]) <= bucket(p[1])));
        assert!(nucleus_key(0.5, 7) < nucleus_key(0.5, 8));
        assert!(nucleus_key(0.6, 9) < nucleus_key(0.5, 1));
        assert_eq!(key_weight(nucleus_key(0.3, 5)), 0.3);
    }

    #[test]
    fn nucleus_survives_rounding_between_histogram_and_walk() {
        // The first four weights share the top bucket, and summing them in
        // index order (as the histogram does) gives one ulp more than in
        // sorted order (as the walk does), found by a Python search. With
        // the index-order sum as target the walk falls short and must go on
        // to 0.5, but no further.
        let mut s = Sampler::new(params(1.0, 0.5), 0);
        s.weights = vec![
            1.0,
            0.9392711328437557,
            0.988472927848669,
            0.9827004487093863,
            0.5,
            0.25,
        ];
        let target = s.weights[..4].iter().sum::<f64>();
        assert!(1.0 + 0.988472927848669 + 0.9827004487093863 + 0.9392711328437557 < target);
        let (keep, kept) = s.nucleus(target);
        assert_eq!(keep, 5);
        assert!(kept >= target);
        let ids: Vec<u32> = s.order[..keep].iter().map(|&k| k as u32).collect();
        assert_eq!(ids, [0, 2, 3, 1, 4]);
    }

    #[test]
    fn nucleus_ties_keep_lowest_indices() {
        // 300 equal weights of exactly 1: half the mass is the first 150 ids.
        let mut s = Sampler::new(params(1.0, 0.5), 0);
        let logits = vec![0.25f32; 300];
        let mut seen = [false; 150];
        for _ in 0..3000 {
            let id = s.sample(&mut logits.clone()) as usize;
            assert!(id < 150, "id {id}");
            seen[id] = true;
        }
        assert!(seen.iter().all(|&x| x));
    }

    #[test]
    fn presence_penalty_moves_the_argmax() {
        let mut s = Sampler::new(
            SamplingParams {
                temperature: 0.0,
                presence_penalty: 0.75,
                ..SamplingParams::default()
            },
            0,
        );
        let base = [2.0f32, 1.5, 0.0];
        assert_eq!(s.sample(&mut base.clone()), 0);
        // One use of token 0: 2.0 - 0.75 = 1.25 < 1.5.
        s.accept(0);
        let mut logits = base;
        assert_eq!(s.sample(&mut logits), 1);
        assert_eq!(logits, [1.25, 1.5, 0.0]);
        // Presence does not grow with the count.
        s.accept(0);
        s.accept(0);
        let mut logits = base;
        assert_eq!(s.sample(&mut logits), 1);
        assert_eq!(logits, [1.25, 1.5, 0.0]);
        // Both penalised: 1.25 vs 0.75, token 0 wins again.
        s.accept(1);
        let mut logits = base;
        assert_eq!(s.sample(&mut logits), 0);
        assert_eq!(logits, [1.25, 0.75, 0.0]);
    }

    #[test]
    fn frequency_penalty_moves_the_argmax() {
        let mut s = Sampler::new(
            SamplingParams {
                temperature: 0.0,
                frequency_penalty: 0.25,
                ..SamplingParams::default()
            },
            0,
        );
        let base = [2.0f32, 1.5, 0.0];
        let expected = [
            (1.75, 0), // 2 - 1 * 0.25 > 1.5
            (1.5, 0),  // 2 - 2 * 0.25 ties 1.5: lowest index wins
            (1.25, 1), // 2 - 3 * 0.25 < 1.5
        ];
        for (logit0, id) in expected {
            s.accept(0);
            let mut logits = base;
            assert_eq!(s.sample(&mut logits), id);
            assert_eq!(logits, [logit0, 1.5, 0.0]);
        }
    }

    #[test]
    fn penalties_combine_and_may_be_negative() {
        let mut s = Sampler::new(
            SamplingParams {
                temperature: 0.0,
                presence_penalty: -0.5,
                frequency_penalty: 0.25,
                ..SamplingParams::default()
            },
            0,
        );
        s.accept(2);
        s.accept(2);
        // 999 is outside this vocabulary and is ignored.
        s.accept(999);
        let mut logits = [2.0f32, 1.5, 1.75];
        // 1.75 - (2 * 0.25 - 0.5) = 1.75: still below 2.
        assert_eq!(s.sample(&mut logits), 0);
        assert_eq!(logits, [2.0, 1.5, 1.75]);
        s.accept(1);
        let mut logits = [2.0f32, 1.5, 1.75];
        // 1.5 - (0.25 - 0.5) = 1.75; 2 is still the maximum.
        assert_eq!(s.sample(&mut logits), 0);
        assert_eq!(logits, [2.0, 1.75, 1.75]);
    }

    #[test]
    fn sample_does_not_accept() {
        let mut s = Sampler::new(
            SamplingParams {
                temperature: 0.0,
                presence_penalty: 1.0,
                ..SamplingParams::default()
            },
            0,
        );
        for _ in 0..3 {
            assert_eq!(s.sample(&mut [2.0, 1.5]), 0);
        }
    }

    #[test]
    fn penalties_apply_before_temperature() {
        // Penalising token 0 by ln 4 turns weights (4, 1) into (1, 1).
        let mut s = Sampler::new(
            SamplingParams {
                temperature: 0.5,
                presence_penalty: 4f32.ln(),
                ..SamplingParams::default()
            },
            0,
        );
        s.accept(0);
        let logits = logits_for(&[0.8, 0.2]);
        assert_near(&frequencies(&mut s, &logits, 40_000), &[0.5, 0.5], 0.01);
    }

    fn draws(seed: u64, stream: u64, top_p: f32, n: usize) -> Vec<u32> {
        let logits = logits_for(&[0.4, 0.3, 0.2, 0.1]);
        let mut s = Sampler::new(
            SamplingParams {
                seed,
                ..params(1.0, top_p)
            },
            stream,
        );
        (0..n).map(|_| s.sample(&mut logits.clone())).collect()
    }

    #[test]
    fn seeds_and_streams_are_reproducible_and_distinct() {
        for top_p in [1.0, 0.95] {
            assert_eq!(draws(42, 0, top_p, 64), draws(42, 0, top_p, 64));
            assert_ne!(draws(42, 0, top_p, 64), draws(43, 0, top_p, 64));
            assert_ne!(draws(42, 0, top_p, 64), draws(42, 1, top_p, 64));
            assert_ne!(draws(42, 1, top_p, 64), draws(42, 2, top_p, 64));
        }
    }

    #[test]
    fn golden_draws() {
        // Pins the exact stream, so a change that would alter seeded outputs
        // fails here. Checked against a Python transcription of this sampler
        // (the rng reference in rng.rs plus float32-rounded logits,
        // exp((l - max) / T) in double and the same walks).
        assert_eq!(
            draws(42, 0, 1.0, 16),
            [0, 0, 1, 3, 3, 2, 2, 2, 2, 1, 1, 0, 2, 0, 2, 2]
        );
        assert_eq!(
            draws(42, 0, 0.5, 16),
            [0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 1]
        );
    }

    #[test]
    fn infinite_and_nan_logits() {
        let mut s = Sampler::new(params(1.0, 1.0), 0);
        for _ in 0..100 {
            assert_eq!(s.sample(&mut [0.0, f32::INFINITY, f32::NAN, 1.0]), 1);
            assert_ne!(s.sample(&mut [f32::NAN, f32::NEG_INFINITY, 0.0, 0.0]), 0);
            assert_ne!(s.sample(&mut [f32::NAN, f32::NEG_INFINITY, 0.0, 0.0]), 1);
        }
        assert_eq!(s.sample(&mut [f32::NEG_INFINITY, f32::NAN]), 0);
    }

    #[test]
    fn unvalidated_params_do_not_panic() {
        let logits = [f32::NEG_INFINITY, 1.0, f32::NAN, 0.5];
        for temperature in [-1.0, f32::NAN, f32::INFINITY, 1e-30, 1e30] {
            for top_p in [f32::NAN, -1.0, 0.3, 2.0] {
                let mut s = Sampler::new(params(temperature, top_p), 0);
                for _ in 0..20 {
                    let id = s.sample(&mut logits.clone());
                    assert!(id == 1 || id == 3, "T {temperature}, top_p {top_p}: {id}");
                }
            }
        }
    }

    #[test]
    fn validate_rejects_meaningless_values() {
        assert_eq!(SamplingParams::default().validate(), Ok(()));
        assert_eq!(params(0.0, 0.0).validate(), Ok(()));
        assert_eq!(
            params(-0.1, 1.0).validate(),
            Err(SamplingError::Temperature(-0.1))
        );
        assert!(params(f32::NAN, 1.0).validate().is_err());
        assert!(params(f32::INFINITY, 1.0).validate().is_err());
        assert_eq!(params(1.0, 1.5).validate(), Err(SamplingError::TopP(1.5)));
        assert!(params(1.0, f32::NAN).validate().is_err());
        let p = SamplingParams {
            frequency_penalty: f32::NAN,
            ..SamplingParams::default()
        };
        assert!(matches!(
            p.validate(),
            Err(SamplingError::Penalty {
                name: "frequency_penalty",
                ..
            })
        ));
    }
}

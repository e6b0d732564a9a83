//! The decode loop on a test model: greedy against transformers' ids, seeded sampling, stop
//! strings, max_tokens, n answers from one prefill, abort.

use burn::tensor::Device;
use hearth::engine::Engine;
use hearth::generate::{Answer, FinishReason, GenerationRequest, SamplingParams, generate};
use hearth::model::Precision;

use crate::{common, parity};

fn engine() -> Engine {
    common::load("tiny-mqa-untied", &Device::flex(), Precision::F32)
}

fn request(engine: &Engine, max_tokens: usize, temperature: f32, seed: u64) -> GenerationRequest {
    GenerationRequest {
        prompt_ids: engine
            .format
            .prompt_ids(&parity::golden_conversation())
            .unwrap(),
        max_tokens,
        n: 1,
        sampling: SamplingParams {
            temperature,
            top_p: 1.0,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed,
        },
        stop: vec![],
        cancel: Default::default(),
    }
}

/// Runs a request and returns the answers and the streamed deltas of each.
fn run(engine: &Engine, request: &GenerationRequest) -> (Vec<Answer>, Vec<String>) {
    let mut streamed = vec![String::new(); request.n];
    let answers = pollster::block_on(generate(
        &engine.model,
        &engine.format,
        request,
        |i, text| {
            streamed[i].push_str(text);
            true
        },
    ))
    .expect("generates");
    (answers, streamed)
}

#[test]
fn greedy_answer_is_transformers_greedy_ids() {
    let engine = engine();
    let golden = common::golden("tiny-mqa-untied.json");
    let expected: Vec<u32> = serde_json::from_value(golden["greedy_ids"].clone()).unwrap();
    let (answers, streamed) = run(&engine, &request(&engine, 32, 0.0, 0));
    let answer = &answers[0];
    // transformers' ids run on past an end-of-turn token; ours stop there.
    let eot = expected
        .iter()
        .position(|id| engine.format.end_of_turn_ids().contains(id));
    let expected = &expected[..eot.map_or(expected.len(), |i| i + 1)];
    assert_eq!(answer.tokens, expected);
    let reason = if eot.is_some() {
        FinishReason::Stop
    } else {
        FinishReason::Length
    };
    assert_eq!(answer.finish_reason, reason);
    assert_eq!(streamed[0], answer.text);
    let decoded = engine.format.tokenizer().decode(&answer.tokens).unwrap();
    assert_eq!(answer.text, decoded);
}

#[test]
fn seeded_sampling_is_reproducible() {
    let engine = engine();
    let a = run(&engine, &request(&engine, 16, 1.0, 7)).0;
    let b = run(&engine, &request(&engine, 16, 1.0, 7)).0;
    let c = run(&engine, &request(&engine, 16, 1.0, 8)).0;
    assert_eq!(a, b, "same seed, same answer");
    assert_ne!(a[0].tokens, c[0].tokens, "another seed, another answer");
}

#[test]
fn stop_string_ends_the_answer_before_it() {
    let engine = engine();
    let full = run(&engine, &request(&engine, 24, 0.0, 0)).0.remove(0);
    let chars: Vec<char> = full.text.chars().collect();
    assert!(chars.len() > 12, "need a longer answer: {:?}", full.text);
    let stop: String = chars[6..9].iter().collect();
    let mut req = request(&engine, 24, 0.0, 0);
    req.stop = vec!["never appears \u{1F600}".into(), stop.clone()];
    let (answers, streamed) = run(&engine, &req);
    let cut = full.text.find(&stop).unwrap();
    assert_eq!(answers[0].text, full.text[..cut]);
    assert_eq!(streamed[0], answers[0].text);
    assert_eq!(answers[0].finish_reason, FinishReason::Stop);
    assert!(answers[0].tokens.len() < full.tokens.len());
}

#[test]
fn max_tokens_ends_with_length() {
    let engine = engine();
    let answer = run(&engine, &request(&engine, 3, 0.0, 0)).0.remove(0);
    assert_eq!(answer.tokens.len(), 3);
    assert_eq!(answer.finish_reason, FinishReason::Length);
}

#[test]
fn n_answers_share_one_prefill() {
    let engine = engine();
    let single = run(&engine, &request(&engine, 8, 0.0, 0)).0.remove(0);
    let mut req = request(&engine, 8, 0.0, 0);
    req.n = 3;
    let (greedy, _) = run(&engine, &req);
    assert_eq!(greedy, vec![single.clone(), single.clone(), single]);

    let mut req = request(&engine, 8, 1.0, 5);
    req.n = 3;
    let (sampled, streamed) = run(&engine, &req);
    assert_eq!(sampled.len(), 3);
    assert_ne!(
        sampled[0].tokens, sampled[1].tokens,
        "each answer samples its own stream"
    );
    for (answer, text) in sampled.iter().zip(&streamed) {
        assert_eq!(&answer.text, text);
    }
    assert_eq!(sampled, run(&engine, &req).0, "reproducible with the seed");
}

#[test]
fn abort_ends_with_what_it_has() {
    let engine = engine();
    let req = request(&engine, 24, 0.0, 0);
    let mut deltas = 0;
    let answers = pollster::block_on(generate(&engine.model, &engine.format, &req, |_, _| {
        deltas += 1;
        deltas < 3
    }))
    .unwrap();
    assert_eq!(answers[0].finish_reason, FinishReason::Abort);
    assert!(answers[0].tokens.len() < 24);
}

#[test]
fn penalties_change_greedy_choices() {
    let engine = engine();
    let plain = run(&engine, &request(&engine, 16, 0.0, 0)).0.remove(0);
    let mut req = request(&engine, 16, 0.0, 0);
    req.sampling.frequency_penalty = 2.0;
    let penalized = run(&engine, &req).0.remove(0);
    // A random model repeats itself; a frequency penalty of 2 forbids the repeats it can.
    let repeats =
        |ids: &[u32]| ids.len() - ids.iter().collect::<std::collections::HashSet<_>>().len();
    assert!(
        repeats(&penalized.tokens) < repeats(&plain.tokens).max(1),
        "{plain:?} vs {penalized:?}"
    );
}

/// The pause point comes between tokens (never after the last), and pausing changes nothing.
#[test]
fn paced_generation_pauses_between_tokens_and_answers_the_same() {
    let engine = engine();
    let mut req = request(&engine, 12, 0.8, 5);
    req.n = 2;
    let (expected, _) = run(&engine, &req);
    let pauses = std::cell::Cell::new(0);
    let answers = pollster::block_on(hearth::generate::generate_paced(
        &engine.model,
        &engine.format,
        &req,
        |_, _| true,
        || {
            pauses.set(pauses.get() + 1);
            std::future::ready(())
        },
    ))
    .unwrap();
    assert_eq!(answers, expected);
    let tokens: usize = answers.iter().map(|a| a.tokens.len()).sum();
    assert_eq!(pauses.get(), tokens - answers.len());
}

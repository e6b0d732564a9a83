//! Several sequences at once: a batched pass equals each sequence's own, and the scheduler's
//! answers (parallel slots, chunked prefill, prompt reuse, n answers) equal `generate`'s.

use std::sync::Arc;

use burn::tensor::Device;
use hearth::engine::Engine;
use hearth::generate::{Answer, FinishReason, GenerationRequest, SamplingParams, generate};
use hearth::model::{Precision, Step};
use hearth::runner::scheduler::{Scheduler, SlotOptions, Work};
use hearth::runner::{Finished, JobEvent};
use hearth::text::Message;

use crate::common;

fn engine(precision: Precision) -> Engine {
    common::load("tiny-gqa-tied", &Device::flex(), precision)
}

fn prompt(engine: &Engine, text: &str) -> Vec<u32> {
    let messages = [Message::new("user", text)];
    engine.format.prompt_ids(&messages).unwrap()
}

fn request(
    prompt_ids: Vec<u32>,
    max_tokens: usize,
    n: usize,
    temperature: f32,
) -> GenerationRequest {
    GenerationRequest {
        prompt_ids,
        max_tokens,
        n,
        sampling: SamplingParams {
            temperature,
            top_p: 0.9,
            presence_penalty: 0.0,
            frequency_penalty: 0.0,
            seed: 7,
        },
        stop: vec![],
        cancel: Default::default(),
    }
}

fn alone(engine: &Engine, request: &GenerationRequest) -> Vec<Answer> {
    pollster::block_on(generate(&engine.model, &engine.format, request, |_, _| {
        true
    }))
    .unwrap()
}

/// Runs `requests` through a scheduler of `options` until all are answered; the answers
/// and the streamed text of each.
fn scheduled(
    engine: Engine,
    options: SlotOptions,
    requests: &[GenerationRequest],
) -> Vec<(Finished, Vec<String>)> {
    let mut scheduler = Scheduler::new(Arc::new(engine), options);
    let receivers: Vec<_> = requests
        .iter()
        .map(|request| {
            let (events, receiver) = async_channel::unbounded();
            scheduler.admit(Work {
                request: request.clone(),
                events,
            });
            receiver
        })
        .collect();
    let mut steps = 0;
    while !scheduler.idle() {
        pollster::block_on(scheduler.step());
        steps += 1;
        assert!(steps < 10_000, "the scheduler never finished");
    }
    receivers
        .into_iter()
        .zip(requests)
        .map(|(events, request)| {
            let mut streamed = vec![String::new(); request.n];
            loop {
                match events.try_recv().expect("a finished request") {
                    JobEvent::Delta { index, text } => streamed[index] += &text,
                    JobEvent::Done(done) => return (done.expect("answers"), streamed),
                }
            }
        })
        .collect()
}

fn texts(answers: &[Answer]) -> Vec<(&str, usize)> {
    answers
        .iter()
        .map(|a| (a.text.as_str(), a.tokens.len()))
        .collect()
}

/// Four sequences in one pass (two prompts, two single decode tokens) give each sequence's
/// logits as its own pass does, within 1e-5, in f32 and in q8 alike: how a row is multiplied
/// depends on what it is (prompt or decode), never on what else is in the pass.
#[test]
fn a_batched_pass_equals_each_sequences_own() {
    for precision in [Precision::F32, Precision::Q8] {
        let engine = engine(precision);
        let model = &engine.model;
        let prompts = [
            prompt(&engine, "Hello there."),
            prompt(&engine, "A longer question about the weather today."),
        ];
        let mut alone_caches: Vec<_> = (0..4).map(|_| model.new_cache(256)).collect();
        let mut batch_caches: Vec<_> = (0..4).map(|_| model.new_cache(256)).collect();
        // Sequences 2 and 3 are already past a prompt: they feed one token each.
        for caches in [&mut alone_caches, &mut batch_caches] {
            model.forward(&prompts[0], &mut caches[2]);
            model.forward(&prompts[1], &mut caches[3]);
        }
        let feeds: [&[u32]; 4] = [&prompts[0], &prompts[1], &[42], &[7]];
        let expected: Vec<Vec<f32>> = feeds
            .iter()
            .zip(&mut alone_caches)
            .map(|(ids, cache)| pollster::block_on(model.forward(ids, cache).into_vec()).unwrap())
            .collect();
        let mut steps: Vec<Step<'_>> = feeds
            .iter()
            .zip(&mut batch_caches)
            .map(|(ids, cache)| Step { ids, cache })
            .collect();
        let batched = model.forward_batch(&mut steps);
        for (i, (logits, expected)) in batched.into_iter().zip(&expected).enumerate() {
            let logits = pollster::block_on(logits.into_vec()).unwrap();
            let worst = logits
                .iter()
                .zip(expected)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            let tolerance = if precision == Precision::F32 {
                1e-5
            } else {
                2e-2
            };
            assert!(
                worst < tolerance,
                "{precision}: sequence {i} differs by {worst}"
            );
            assert_eq!(common::argmax(&logits), common::argmax(expected));
        }
    }
}

/// Five requests on three slots with a small prefill chunk: every answer, greedy or
/// sampled, is the one `generate` gives it alone, and streams what it returns.
#[test]
fn scheduled_answers_equal_answers_alone() {
    let engine = engine(Precision::F32);
    let questions = [
        "Hi.",
        "What is two plus two?",
        "Tell me a story about a cat.",
        "Why?",
        "Count to ten.",
    ];
    let requests: Vec<_> = questions
        .iter()
        .enumerate()
        .map(|(i, q)| {
            let temperature = if i % 2 == 0 { 0.0 } else { 0.8 };
            request(prompt(&engine, q), 12, 1 + i % 3, temperature)
        })
        .collect();
    let expected: Vec<_> = requests.iter().map(|r| alone(&engine, r)).collect();
    let options = SlotOptions {
        parallel: 3,
        ctx_size: 256,
        prefill_chunk: 5,
    };
    let got = scheduled(engine, options, &requests);
    for (i, ((finished, streamed), expected)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(texts(&finished.answers), texts(expected), "request {i}");
        for (answer, text) in finished.answers.iter().zip(streamed) {
            assert_eq!(&answer.text, text, "request {i}: streamed text");
        }
    }
}

/// A chat's second turn finds its first turn's prompt and answer in the slot: it prefills
/// only the new tokens, reports the rest as cached, and answers as a cold prefill does.
#[test]
fn the_next_turn_reuses_the_cached_prefix() {
    let engine = engine(Precision::F32);
    let first = request(prompt(&engine, "Hello, who are you?"), 8, 1, 0.0);
    let first_answer = alone(&engine, &first).remove(0);
    let mut second_prompt = first.prompt_ids.clone();
    second_prompt.extend(&first_answer.tokens);
    second_prompt.extend(prompt(&engine, "And what do you do?"));
    let second = request(second_prompt, 8, 1, 0.0);
    let expected = alone(&engine, &second);
    let options = SlotOptions {
        parallel: 2,
        ctx_size: 256,
        prefill_chunk: 64,
    };
    let mut scheduler = Scheduler::new(Arc::new(engine), options);
    let mut ask = |request: &GenerationRequest| {
        let (events, receiver) = async_channel::unbounded();
        scheduler.admit(Work {
            request: request.clone(),
            events,
        });
        while !scheduler.idle() {
            pollster::block_on(scheduler.step());
        }
        loop {
            if let JobEvent::Done(done) = receiver.try_recv().unwrap() {
                return done.unwrap();
            }
        }
    };
    let cold = ask(&first);
    assert_eq!(cold.cached_tokens, 0);
    let warm = ask(&second);
    // The first turn's prompt and answer tokens, less the end-of-turn the template writes.
    let held = first.prompt_ids.len() + first_answer.tokens.len();
    assert!(
        warm.cached_tokens as usize >= first.prompt_ids.len()
            && warm.cached_tokens as usize <= held,
        "cached {} of {} held",
        warm.cached_tokens,
        held
    );
    assert_eq!(texts(&warm.answers), texts(&expected));
}

/// n answers at temperature 0 are the same answer n times, in every format: the later ones
/// start from the first one's prompt logits and cache, not from a pass of their own.
#[test]
fn greedy_answers_of_one_request_agree_in_q8() {
    let engine = engine(Precision::Q8);
    let request = request(prompt(&engine, "Count to ten."), 12, 3, 0.0);
    let expected = alone(&engine, &request);
    let options = SlotOptions {
        parallel: 2,
        ctx_size: 256,
        prefill_chunk: 512,
    };
    let (finished, _) = scheduled(engine, options, std::slice::from_ref(&request)).remove(0);
    assert_eq!(texts(&finished.answers), texts(&expected));
    assert!(
        finished
            .answers
            .iter()
            .all(|a| a.text == finished.answers[0].text)
    );
}

/// A cancelled request ends at its next token with finish_reason `abort` and what it has,
/// while the request beside it in the batch answers whole, as it does alone.
#[test]
fn a_cancelled_request_ends_alone() {
    let engine = engine(Precision::F32);
    let requests = [
        request(prompt(&engine, "Tell me a story about a cat."), 40, 1, 0.0),
        request(prompt(&engine, "Count to ten."), 40, 1, 0.0),
    ];
    let whole = alone(&engine, &requests[0]);
    let expected = alone(&engine, &requests[1]);
    let options = SlotOptions {
        parallel: 2,
        ctx_size: 256,
        prefill_chunk: 64,
    };
    let mut scheduler = Scheduler::new(Arc::new(engine), options);
    let receivers: Vec<_> = requests
        .iter()
        .map(|request| {
            let (events, receiver) = async_channel::unbounded();
            let work = Work {
                request: request.clone(),
                events,
            };
            scheduler.admit(work);
            receiver
        })
        .collect();
    for _ in 0..8 {
        pollster::block_on(scheduler.step());
    }
    requests[0].cancel.cancel();
    while !scheduler.idle() {
        pollster::block_on(scheduler.step());
    }
    let finished: Vec<Finished> = receivers
        .iter()
        .map(|events| {
            loop {
                if let JobEvent::Done(done) = events.try_recv().expect("a finished request") {
                    break done.expect("answers");
                }
            }
        })
        .collect();
    let cancelled = &finished[0].answers[0];
    assert_eq!(cancelled.finish_reason, FinishReason::Abort);
    assert!(cancelled.tokens.len() < whole[0].tokens.len());
    assert!(whole[0].text.starts_with(&cancelled.text));
    assert_eq!(texts(&finished[1].answers), texts(&expected));
}

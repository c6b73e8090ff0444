use std::collections::BTreeMap;
use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use tokio_test::{assert_pending, assert_ready, assert_ready_ok, task};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

use super::*;
use crate::test_util::{TestError, TestReq, pair};

#[derive(Debug, Default)]
struct SpanRecord {
    name: &'static str,
    fields: BTreeMap<&'static str, String>,
}

#[derive(Debug)]
struct EventRecord {
    level: Level,
    span: Option<u64>,
    fields: BTreeMap<&'static str, String>,
}

#[derive(Debug, Default)]
struct Captured {
    spans: BTreeMap<u64, SpanRecord>,
    events: Vec<EventRecord>,
}

/// A tracing layer that keeps every span field and event for inspection.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Captured>>);

struct Fields<'a>(&'a mut BTreeMap<&'static str, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name(), value.to_string());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name(), format!("{value:?}"));
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _ctx: Context<'_, S>) {
        let mut record = SpanRecord {
            name: attrs.metadata().name(),
            ..SpanRecord::default()
        };
        attrs.record(&mut Fields(&mut record.fields));
        self.0.lock().unwrap().spans.insert(id.into_u64(), record);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut captured = self.0.lock().unwrap();
        let record = captured.spans.get_mut(&id.into_u64()).expect("known span");
        values.record(&mut Fields(&mut record.fields));
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().events.push(EventRecord {
            level: *event.metadata().level(),
            span: ctx.event_span(event).map(|s| s.id().into_u64()),
            fields,
        });
    }
}

fn capture() -> (Capture, tracing::subscriber::DefaultGuard) {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    (capture, tracing::subscriber::set_default(subscriber))
}

fn with_id(op: &'static str, id: &str) -> TestReq {
    TestReq {
        id: Some(id.to_string()),
        ..TestReq::new(op)
    }
}

#[tokio::test(start_paused = true)]
async fn records_ok_outcome() {
    let (capture, _guard) = capture();
    let (svc, mut handle) = pair();
    let mut svc = Trace::new(svc, DefaultMakeSpan::new());
    assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
    let mut fut = task::spawn(svc.call(with_id("get", "req-1")));
    assert_pending!(fut.poll());

    {
        let captured = capture.0.lock().unwrap();
        let span = captured.spans.values().next().expect("span created");
        assert_eq!(span.name, "aether.op");
        assert!(!span.fields.contains_key("outcome"));
    }

    tokio::time::advance(Duration::from_millis(250)).await;
    handle
        .next_request()
        .await
        .expect("request")
        .1
        .send_response("ok");
    assert_eq!(assert_ready!(fut.poll()), Ok("ok"));

    let captured = capture.0.lock().unwrap();
    assert_eq!(captured.spans.len(), 1);
    let (&id, span) = captured.spans.iter().next().expect("span");
    assert_eq!(span.fields["op"], "get");
    assert_eq!(span.fields["request_id"], "req-1");
    assert_eq!(span.fields["outcome"], "ok");
    let latency: f64 = span.fields["latency_ms"].parse().expect("f64");
    assert!((latency - 250.0).abs() < 1.0, "{latency}");

    assert_eq!(captured.events.len(), 1);
    let event = &captured.events[0];
    assert_eq!(event.level, Level::DEBUG);
    assert_eq!(event.span, Some(id));
}

#[tokio::test]
async fn records_error_outcome() {
    let (capture, _guard) = capture();
    let (svc, mut handle) = pair();
    let mut svc = Trace::new(svc, DefaultMakeSpan::new().level(Level::INFO));
    assert_ready_ok!(task::spawn(()).enter(|cx, _| svc.poll_ready(cx)));
    let mut fut = task::spawn(svc.call(TestReq::new("put")));
    handle
        .next_request()
        .await
        .expect("request")
        .1
        .send_error(TestError::Fatal);
    assert_eq!(assert_ready!(fut.poll()), Err(TestError::Fatal));

    let captured = capture.0.lock().unwrap();
    let (&id, span) = captured.spans.iter().next().expect("span");
    assert_eq!(span.fields["op"], "put");
    assert_eq!(span.fields["request_id"], "");
    assert_eq!(span.fields["outcome"], "error");
    assert!(span.fields.contains_key("latency_ms"));

    assert_eq!(captured.events.len(), 1);
    let event = &captured.events[0];
    assert_eq!(event.level, Level::WARN);
    assert_eq!(event.span, Some(id));
    assert_eq!(event.fields["error"], "test error: Fatal");
}

#[tokio::test]
async fn inner_call_and_polls_run_inside_the_span() {
    let (capture, _guard) = capture();
    let svc = tower::service_fn(|_req: TestReq| {
        tracing::info!("in call");
        let mut polled = false;
        poll_fn(move |cx| {
            tracing::info!("in poll");
            if polled {
                Poll::Ready(Ok::<_, TestError>("done"))
            } else {
                polled = true;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        })
    });
    let mut svc = Trace::new(svc, DefaultMakeSpan::new());
    let mut fut = task::spawn(svc.call(TestReq::new("get")));
    assert_pending!(fut.poll());
    assert_eq!(assert_ready!(fut.poll()), Ok("done"));

    let captured = capture.0.lock().unwrap();
    let &id = captured.spans.keys().next().expect("span");
    let inner: Vec<_> = captured
        .events
        .iter()
        .filter(|e| e.level == Level::INFO)
        .collect();
    assert_eq!(inner.len(), 3, "{inner:?}");
    assert!(inner.iter().all(|e| e.span == Some(id)), "{inner:?}");
}

#[tokio::test]
async fn poll_ready_forwards_backpressure() {
    let (svc, mut handle) = pair();
    let mut svc = tower_test::mock::Spawn::new(Trace::new(svc, DefaultMakeSpan::new()));
    handle.allow(0);
    assert_pending!(svc.poll_ready());
    handle.allow(1);
    assert_ready_ok!(svc.poll_ready());
}

#[test]
fn a_subscriber_that_takes_debug_spans_may_enable_them() {
    let (_capture, _guard) = capture();
    assert!(DefaultMakeSpan::new().may_be_enabled());
    let span = DefaultMakeSpan::new().make_span(&TestReq::new("get"));
    assert!(!span.is_disabled());
}

//! What elt's Kafka clients share: a context that notices when brokers refuse them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::client::ClientContext;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::ConsumerContext;
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::metadata::Metadata;
use rdkafka::producer::ProducerContext;

use crate::LoadError;

/// How long brokers have to answer a client's first metadata request.
const REACH: Duration = Duration::from_secs(10);
/// How long one try at the metadata waits, and then the client's events are served.
const TRY: Duration = Duration::from_millis(250);

/// A client's first metadata, by `fetch`. Brokers that refuse the client's credentials or
/// fail its TLS handshake are reported at once: librdkafka would retry them quietly until the
/// request timed out, as if they were down. `serve` serves the client's events for a while,
/// which brings its errors to `watch`.
pub(crate) fn metadata(
    brokers: &str,
    watch: &Watch,
    fetch: impl Fn(Duration) -> KafkaResult<Metadata>,
    serve: impl Fn(Duration),
) -> Result<Metadata, LoadError> {
    let started = Instant::now();
    loop {
        if let Some(refused) = watch.refusal(brokers) {
            return Err(refused);
        }
        let error = match fetch(TRY) {
            Ok(metadata) => return Ok(metadata),
            Err(error) => error,
        };
        if started.elapsed() >= REACH {
            return Err(LoadError::new(format!(
                "cannot reach the Kafka brokers {brokers}: {error}"
            ))
            .with_hint("check the `brokers` and that they are up"));
        }
        serve(TRY);
    }
}

/// The context of elt's Kafka clients (the loader's consumer, the publisher's producer and
/// admin client): keeps the first refusal of the client's credentials or of its TLS handshake
/// that librdkafka reports, and turns librdkafka's log and errors into debug lines
/// (`ELT_LOG=debug`): elt itself reports what stops it (unreachable brokers, a refusal, a
/// missing topic, a stalled topic).
#[derive(Default)]
pub(crate) struct Watch {
    refused: Mutex<Option<(RDKafkaErrorCode, String)>>,
}

impl Watch {
    pub(crate) fn refusal(&self, brokers: &str) -> Option<LoadError> {
        let refused = self.refused.lock().expect("not poisoned");
        let (code, reason) = refused.as_ref()?;
        Some(if *code == RDKafkaErrorCode::Authentication {
            LoadError::new(format!(
                "the Kafka brokers {brokers} refused the credentials: {reason}"
            ))
            .with_hint(
                "check sasl.mechanism, sasl.username and sasl.password in the client's \
                 properties (a loader's `properties`, `elt generate -X`)",
            )
        } else {
            LoadError::new(format!(
                "the TLS handshake with the Kafka brokers {brokers} failed: {reason}"
            ))
            .with_hint(
                "check security.protocol and ssl.ca.location (the CA that signed the brokers' \
                 certificates) in the client's properties (a loader's `properties`, \
                 `elt generate -X`)",
            )
        })
    }
}

impl ClientContext for Watch {
    fn log(&self, _: RDKafkaLogLevel, facility: &str, message: &str) {
        tracing::debug!("librdkafka: {facility} {message}");
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!("librdkafka: {error}: {reason}");
        let code = error.rdkafka_error_code();
        if let Some(code @ (RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SSL)) = code {
            let mut refused = self.refused.lock().expect("not poisoned");
            refused.get_or_insert_with(|| (code, reason.to_string()));
        }
    }
}

impl ConsumerContext for Watch {}

impl ProducerContext for Watch {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

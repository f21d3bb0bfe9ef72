//! What elt's Kafka clients share: a context that notices when brokers refuse them; and the
//! loader's batch fetch of messages.

use std::ffi::c_int;
use std::marker::PhantomData;
use std::ptr::NonNull;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::bindings as rdsys;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::DeliveryResult;
use rdkafka::metadata::Metadata;
use rdkafka::producer::ProducerContext;

use crate::LoadError;

/// How long brokers have to answer a client's first metadata request.
const REACH: Duration = Duration::from_secs(10);
/// How long one try at the metadata waits, and then the client's events are served.
const TRY: Duration = Duration::from_millis(250);

/// The settings of an elt Kafka client: the brokers, elt's `defaults` for the client, then
/// librdkafka `properties` (TLS, SASL, ...), which override them. librdkafka's informational
/// lines reach [`Watch`] whatever elt logs (by default rdkafka sets the client's level from
/// the `log` crate's, which drops the line that tells a refused client certificate); `Watch`
/// turns them into debug lines.
pub(crate) fn client_config(
    brokers: &str,
    defaults: &[(&str, &str)],
    properties: &[(String, String)],
) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", brokers)
        .set_log_level(RDKafkaLogLevel::Info);
    for (key, value) in defaults {
        config.set(*key, *value);
    }
    for (key, value) in properties {
        config.set(key, value);
    }
    config
}

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
/// admin client): keeps the first refusal of the client that librdkafka reports (of its
/// credentials, of its TLS handshake, or of the connection right after that handshake), and
/// turns librdkafka's log and errors into debug lines (`ELT_LOG=debug`): elt itself reports
/// what stops it (unreachable brokers, a refusal, a missing topic, a stalled topic).
#[derive(Default)]
pub(crate) struct Watch {
    refused: Mutex<Option<(Refusal, String)>>,
}

/// How brokers turned a client away.
#[derive(Clone, Copy)]
enum Refusal {
    Credentials,
    TlsHandshake,
    /// The connection closed as soon as TLS was set up: how brokers that require a client
    /// certificate (mutual TLS, TLS 1.3) turn away a client without one.
    ClosedAfterTls,
}

impl Watch {
    pub(crate) fn refusal(&self, brokers: &str) -> Option<LoadError> {
        let refused = self.refused.lock().expect("not poisoned");
        let (refusal, reason) = refused.as_ref()?;
        Some(match refusal {
            Refusal::Credentials => LoadError::new(format!(
                "the Kafka brokers {brokers} refused the credentials: {reason}"
            ))
            .with_hint(
                "check sasl.mechanism, sasl.username and sasl.password in the client's \
                 properties (a loader's `properties`, `elt generate -X`)",
            ),
            Refusal::TlsHandshake => LoadError::new(format!(
                "the TLS handshake with the Kafka brokers {brokers} failed: {reason}"
            ))
            .with_hint(
                "check security.protocol and ssl.ca.location (the CA that signed the brokers' \
                 certificates) in the client's properties (a loader's `properties`, \
                 `elt generate -X`), and ssl.certificate.location and ssl.key.location where \
                 the brokers require client certificates",
            ),
            Refusal::ClosedAfterTls => LoadError::new(format!(
                "the Kafka brokers {brokers} closed the connection as soon as TLS was set up: \
                 {reason}"
            ))
            .with_hint(
                "brokers that require client certificates (mutual TLS) do so to a client \
                 without one: set ssl.certificate.location and ssl.key.location (the client's \
                 certificate and key) in the client's properties (a loader's `properties`, \
                 `elt generate -X`)",
            ),
        })
    }

    fn refused(&self, refusal: Refusal, reason: &str) {
        let mut refused = self.refused.lock().expect("not poisoned");
        refused.get_or_insert_with(|| (refusal, reason.to_string()));
    }
}

impl ClientContext for Watch {
    fn log(&self, _: RDKafkaLogLevel, facility: &str, message: &str) {
        tracing::debug!("librdkafka: {facility} {message}");
        // A disconnection while asking the API versions, the first request, comes after the
        // TLS handshake: only TLS connections (ssl:// and sasl_ssl://) get there with TLS set up.
        if facility == "FAIL"
            && message.contains("ssl://")
            && message.contains("by peer")
            && message.contains("in state APIVERSION_QUERY")
        {
            let reason = message
                .split_once("Disconnected: ")
                .map_or(message, |(_, r)| r);
            self.refused(Refusal::ClosedAfterTls, reason);
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::debug!("librdkafka: {error}: {reason}");
        match error.rdkafka_error_code() {
            Some(RDKafkaErrorCode::Authentication) => self.refused(Refusal::Credentials, reason),
            Some(RDKafkaErrorCode::SSL) => self.refused(Refusal::TlsHandshake, reason),
            _ => {}
        }
    }
}

impl ConsumerContext for Watch {}

impl ProducerContext for Watch {
    type DeliveryOpaque = ();

    fn delivery(&self, _: &DeliveryResult<'_>, _: Self::DeliveryOpaque) {}
}

/// The most messages one fetch takes.
const FETCH: usize = 4096;

/// Reads a consumer's messages many at a time: librdkafka's batch consume takes the messages
/// its queue holds in one call, where rdkafka's `poll` costs a clock reading, a lock and an
/// event per message (a third of the reading thread's time; a plain consume of 1M messages
/// took 0.26-0.34 s this way against 0.38-0.45 s by `poll`). Each fetch releases the messages
/// of the one before.
pub struct Fetcher<'c, C: ConsumerContext> {
    queue: NonNull<rdsys::rd_kafka_queue_t>,
    fetched: Vec<*mut rdsys::rd_kafka_message_t>,
    consumer: PhantomData<&'c BaseConsumer<C>>,
}

impl<'c, C: ConsumerContext> Fetcher<'c, C> {
    pub fn new(consumer: &'c BaseConsumer<C>) -> Self {
        // SAFETY: the client handle is valid while the consumer lives, which `'c` bounds; the
        // queue handle returned is a reference of our own, destroyed on drop.
        let queue = unsafe { rdsys::rd_kafka_queue_get_consumer(consumer.client().native_ptr()) };
        Fetcher {
            queue: NonNull::new(queue).expect("a consumer has a queue"),
            fetched: Vec::with_capacity(FETCH),
            consumer: PhantomData,
        }
    }

    /// The messages (and consume errors) queued, up to [`FETCH`]; waits up to `timeout` for
    /// the queue to fill.
    pub fn fetch(&mut self, timeout: Duration) -> impl Iterator<Item = Fetched<'_>> {
        self.release();
        let timeout_ms = timeout.as_millis().min(i32::MAX as u128) as c_int;
        // SAFETY: librdkafka writes at most `capacity` message pointers into the buffer and
        // returns how many (or -1 on an error, with none written).
        unsafe {
            let count = rdsys::rd_kafka_consume_batch_queue(
                self.queue.as_ptr(),
                timeout_ms,
                self.fetched.as_mut_ptr(),
                self.fetched.capacity(),
            );
            self.fetched.set_len(count.max(0) as usize);
        }
        // SAFETY: each pointer is a message librdkafka gave us, valid until released.
        self.fetched
            .iter()
            .map(|&message| Fetched(unsafe { &*message }))
    }

    fn release(&mut self) {
        for message in self.fetched.drain(..) {
            // SAFETY: each message is destroyed once, before its consumer.
            unsafe { rdsys::rd_kafka_message_destroy(message) }
        }
    }
}

impl<C: ConsumerContext> Drop for Fetcher<'_, C> {
    fn drop(&mut self) {
        self.release();
        // SAFETY: the queue reference was taken in `new` and is given back once.
        unsafe { rdsys::rd_kafka_queue_destroy(self.queue.as_ptr()) }
    }
}

/// A fetched message, or a consume error in its place.
pub struct Fetched<'a>(&'a rdsys::rd_kafka_message_t);

impl Fetched<'_> {
    pub fn error(&self) -> Option<KafkaError> {
        let error = self.0.err;
        (error != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR)
            .then(|| KafkaError::MessageConsumption(error.into()))
    }

    pub fn partition(&self) -> i32 {
        self.0.partition
    }

    pub fn offset(&self) -> i64 {
        self.0.offset
    }

    /// The message's value; `None` for a tombstone.
    pub fn payload(&self) -> Option<&[u8]> {
        let payload = self.0.payload as *const u8;
        // SAFETY: a non-null payload points at `len` bytes owned by the message.
        (!payload.is_null()).then(|| unsafe { std::slice::from_raw_parts(payload, self.0.len) })
    }

    /// When the message was written (by its producer's or the broker's clock), if known.
    pub fn timestamp_millis(&self) -> Option<i64> {
        let mut kind = rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
        // SAFETY: reads the message's timestamp and its type into `kind`.
        let millis = unsafe { rdsys::rd_kafka_message_timestamp(self.0, &mut kind) };
        (kind != rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && millis >= 0)
            .then_some(millis)
    }
}

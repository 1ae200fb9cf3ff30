//! The in-flight body budget: one pool of bytes shared by every request, from which a request
//! reserves its body as it arrives and the memory its JSON will take once parsed, so that many
//! large or hostile bodies at once cannot take the server's memory.
//!
//! A request whose needs could never fit gets 413; one that would fit but finds the pool used
//! up waits a moment, then gets 503 with `Retry-After`. What a request reserved is held in its
//! [`BudgetSlot`] until its handler has answered (the parsed documents live that long).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::ApiError;

/// How long a request waits for room in the budget before it is answered 503.
const WAIT_FOR_ROOM: Duration = Duration::from_secs(2);

/// What serde_json's `Value` costs per element, at most: 32 bytes for the value, doubled for
/// the spare capacity of the array (or the map node) holding it.
const VALUE_NODE_BYTES: usize = 64;

/// The shared pool. Cloning shares it.
#[derive(Clone, Debug)]
pub struct BodyBudget {
    pool: Arc<Semaphore>,
    total: usize,
}

impl BodyBudget {
    /// A pool of `total` bytes (at most 4 GiB, tokio's largest single acquisition).
    pub fn new(total: usize) -> Self {
        let total = total.clamp(1, u32::MAX as usize);
        Self {
            pool: Arc::new(Semaphore::new(total)),
            total,
        }
    }

    /// The pool's size.
    pub fn total(&self) -> usize {
        self.total
    }

    /// 413 if `bytes` could never be reserved, however empty the pool.
    pub fn could_fit(&self, bytes: usize, what: &str) -> Result<(), ApiError> {
        if bytes <= self.total {
            return Ok(());
        }
        Err(ApiError::TooLarge(format!(
            "The {what} would take {} MiB of memory, more than this server gives all requests \
             together ({} MiB). Send fewer or smaller documents per request.",
            bytes.div_ceil(1 << 20),
            self.total >> 20
        )))
    }

    /// Bytes not reserved right now.
    pub fn available(&self) -> usize {
        self.pool.available_permits()
    }

    /// Reserves `bytes` for `what` ("request body", "parsed JSON"): 413 if it can never fit,
    /// 503 if the pool stays full for a moment.
    pub async fn reserve(&self, bytes: usize, what: &str) -> Result<Reservation, ApiError> {
        if bytes == 0 {
            return Ok(Reservation::empty());
        }
        self.could_fit(bytes, what)?;
        // `bytes <= total <= u32::MAX`, checked above.
        let permits = u32::try_from(bytes).unwrap_or(u32::MAX);
        match tokio::time::timeout(WAIT_FOR_ROOM, self.pool.clone().acquire_many_owned(permits))
            .await
        {
            Ok(Ok(permit)) => {
                permit.forget();
                Ok(Reservation {
                    pool: Some(self.pool.clone()),
                    bytes,
                })
            }
            Ok(Err(_)) | Err(_) => Err(ApiError::Overloaded {
                reason: "The server is receiving too much data at once. Send the request again \
                         in a few seconds."
                    .to_owned(),
                retry_after_secs: 2,
            }),
        }
    }
}

/// Bytes taken from the pool, given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    pool: Option<Arc<Semaphore>>,
    bytes: usize,
}

impl Reservation {
    /// Nothing reserved yet.
    pub fn empty() -> Self {
        Self {
            pool: None,
            bytes: 0,
        }
    }

    /// How many bytes this holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Adds `other`'s bytes to this one (both come from the same pool).
    pub fn absorb(&mut self, mut other: Reservation) {
        if other.bytes == 0 {
            return;
        }
        self.bytes += other.bytes;
        other.bytes = 0;
        if self.pool.is_none() {
            self.pool = other.pool.take();
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let (Some(pool), bytes @ 1..) = (&self.pool, self.bytes) {
            pool.add_permits(bytes);
        }
    }
}

/// Where a request's reservations are kept until its handler has answered: the connection
/// loop puts one in each request's extensions and drops it with the handler's future.
#[derive(Clone, Default)]
pub struct BudgetSlot(Arc<Mutex<Vec<Reservation>>>);

impl BudgetSlot {
    /// Keeps `reservation` until the request ends.
    pub fn hold(&self, reservation: Reservation) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(reservation);
    }
}

/// An upper bound of the memory serde_json takes to parse `text` into a `Value`: a node per
/// value (counted by the `[`, `{`, `,` and `:` outside strings) plus the text itself for the
/// strings. One pass, no allocation: `[0,0,…]` is 2 bytes of input per 32-byte value, and this
/// is how a request of it is refused before it is parsed.
pub fn json_parse_cost(text: &[u8]) -> usize {
    let mut nodes = 1usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in text {
        if in_string {
            if escaped {
                escaped = false;
            } else if byte == b'\\' {
                escaped = true;
            } else if byte == b'"' {
                in_string = false;
            }
        } else {
            match byte {
                b'"' => in_string = true,
                b'[' | b'{' | b',' | b':' => nodes += 1,
                _ => {}
            }
        }
    }
    nodes
        .saturating_mul(VALUE_NODE_BYTES)
        .saturating_add(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parse_cost_counts_values_outside_strings() {
        assert_eq!(json_parse_cost(b"0"), VALUE_NODE_BYTES + 1);
        let zeros = format!("[{}0]", "0,".repeat(999));
        assert!(json_parse_cost(zeros.as_bytes()) >= 1000 * 32);
        // Commas, brackets and colons inside a string (escaped quotes too) are text.
        let text = br#"{"a":"x,[{:\",y"}"#;
        assert_eq!(json_parse_cost(text), 3 * VALUE_NODE_BYTES + text.len());
    }

    #[tokio::test]
    async fn reservations_come_back_to_the_pool_when_dropped() {
        let budget = BodyBudget::new(1000);
        let mut first = budget.reserve(600, "body").await.unwrap();
        first.absorb(budget.reserve(300, "body").await.unwrap());
        assert_eq!((first.bytes(), budget.available()), (900, 100));
        drop(first);
        assert_eq!(budget.available(), 1000);
    }

    #[tokio::test]
    async fn more_than_the_whole_pool_is_413_and_a_full_pool_is_503() {
        use axum::response::IntoResponse;
        let budget = BodyBudget::new(1000);
        let too_big = budget.reserve(1001, "body").await.unwrap_err();
        assert_eq!(too_big.into_response().status(), 413);
        let _held = budget.reserve(900, "body").await.unwrap();
        let busy = budget
            .reserve(200, "body")
            .await
            .unwrap_err()
            .into_response();
        assert_eq!(busy.status(), 503);
        assert!(busy.headers().contains_key("retry-after"));
    }
}

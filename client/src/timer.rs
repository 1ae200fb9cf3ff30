//! The app's one timer: a future that resolves after some milliseconds (`setTimeout`), for the
//! sync loop's waits, the sign-out dialog's pause and the wait after the list's first paint.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::channel::oneshot;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Resolves after `ms` milliseconds (`setTimeout`); dropping it clears the timer.
pub struct Sleep {
    handle: Option<i32>,
    done: oneshot::Receiver<()>,
    _callback: Option<Closure<dyn FnMut()>>,
}

impl Sleep {
    pub fn new(ms: u32) -> Self {
        let (sender, done) = oneshot::channel();
        let mut sender = Some(sender);
        let callback = Closure::<dyn FnMut()>::new(move || {
            if let Some(s) = sender.take() {
                let _ = s.send(());
            }
        });
        let handle = web_sys::window().and_then(|w| {
            w.set_timeout_with_callback_and_timeout_and_arguments_0(
                callback.as_ref().unchecked_ref(),
                i32::try_from(ms).unwrap_or(i32::MAX),
            )
            .ok()
        });
        Sleep {
            handle,
            done,
            _callback: Some(callback),
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(window), Some(handle)) = (web_sys::window(), self.handle) {
            window.clear_timeout_with_handle(handle);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // A dropped sender (no window to set the timer on) ends the wait at once rather than
        // never.
        Pin::new(&mut self.done).poll(cx).map(|_| ())
    }
}

//! Whether the browser believes it has a network, as a signal shared by context.
//!
//! This is only the browser's own opinion (`navigator.onLine` and the `online`/`offline`
//! events): it can say "online" behind a captive portal. The sync loop will learn the truth by
//! talking to the server; this signal is what the inspector sees at a glance.

use leptos::{ev, prelude::*};

/// A `Copy` handle on the online state.
#[derive(Clone, Copy, Debug)]
pub struct Network {
    online: RwSignal<bool>,
}

impl Network {
    /// Creates the signal from `navigator.onLine` and keeps it current for the app's lifetime.
    pub fn provide() -> Network {
        let network = Network {
            online: RwSignal::new(window().navigator().on_line()),
        };
        let on = window_event_listener(ev::online, move |_| network.online.set(true));
        let off = window_event_listener(ev::offline, move |_| network.online.set(false));
        on_cleanup(move || {
            on.remove();
            off.remove();
        });
        provide_context(network);
        network
    }

    /// Whether the browser reports a network (tracked).
    pub fn is_online(self) -> bool {
        self.online.get()
    }
}

/// The network handle provided at the root of the app.
pub fn use_network() -> Network {
    expect_context::<Network>()
}

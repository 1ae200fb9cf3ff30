//! Entry point of the browser app: mounts the [`chaski_client::App`] shell and nothing else.

fn main() {
    leptos::mount::mount_to_body(chaski_client::App);
}

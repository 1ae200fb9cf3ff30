//! Entry point of the browser app: installs the panic hook and mounts the [`chaski_client::App`]
//! shell.

fn main() {
    // First, so that a panic anywhere in the app is recorded.
    chaski_client::client_errors::install();
    leptos::mount::mount_to_body(chaski_client::App);
}

//! Entry point of the office app: installs the panic hook and mounts [`chaski_office::App`].

fn main() {
    chaski_client::client_errors::install();
    leptos::mount::mount_to_body(chaski_office::App);
}

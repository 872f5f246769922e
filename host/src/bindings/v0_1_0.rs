//! `optimize365:psa-connector@0.1.0`.

wasmtime::component::bindgen!({
    path: "../wit/0.1.0",
    world: "psa-connector",
    exports: { default: async },
    with: {
        "wasi:http": wasmtime_wasi_http::p2::bindings::http,
        "wasi:io": wasmtime_wasi::p2::bindings::io,
        "wasi:clocks": wasmtime_wasi::p2::bindings::clocks,
    },
    require_store_data_send: true,
});

pub use exports::optimize365::psa_connector::connector as api;
pub use optimize365::psa_connector::types as wit;

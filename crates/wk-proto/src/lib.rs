//! Generated prost/tonic code for `proto/watchkeeper/v1`, and nothing else.
#![allow(unreachable_pub, clippy::all)]

pub mod v1 {
    tonic::include_proto!("watchkeeper.v1");
}

/// The encoded file descriptor set, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("watchkeeper_descriptor");

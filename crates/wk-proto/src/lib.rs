//! The wire contract: the generated prost/tonic code for `proto/watchkeeper/v1`, and
//! `convert`, its conversions to and from the domain's types.

#[allow(unreachable_pub, clippy::all)]
pub mod v1 {
    tonic::include_proto!("watchkeeper.v1");
}

pub mod convert;

/// The encoded file descriptor set, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    tonic::include_file_descriptor_set!("watchkeeper_descriptor");

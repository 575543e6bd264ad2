//! The NIC datapath: the protocols a driver and its network card speak through shared memory.
//!
//! No real NIC is reachable from the lab. In every demo of this group the *device* is real code
//! on its own (pinned) core, sharing memory with a *driver* thread, and the lesson is the protocol
//! — descriptor ownership, doorbells, completion queues, DMA address translation — which is the
//! same one real drivers use with real devices. Where a figure cannot be measured here (a PCIe
//! round trip, a DMA engine's latency), the demos print a cited constant and label it as one.

pub mod cut_through;
pub mod descriptor_ring;
pub mod iommu;
pub mod irq_poll;
pub mod mmio;
pub mod napi;
pub mod rdma_qp;
pub mod send_path;

"""One message over one point-to-point link, simulated by ns-3 (the optional `ns3` extra).

Why: fedsim's TCP model is checked against ns-3 on fixed reference rows
(tests/data/ns3_tcp_transfer.csv); this runs the same experiment for any link a
user cares about. The mapping is the reference table's (tests/data/README.md):
ns-3 3.44, two nodes on a point-to-point link (MTU 1500, DropTail 100 packets),
BulkSendApplication (writing 1448 B at a time) -> PacketSink, TcpCubic (HyStart as
set), initial window 10,
segment 1448 B, delayed ACK every 2 segments or 200 ms, minimum RTO 1 s, initial
RTT 1 s, SYN retry 3 s, SACK + timestamps + window scaling, Nagle off, 131072 B
buffers; per-packet loss from a RateErrorModel on the receiving device only. The
time runs from the application's start to the receiver's last byte; the
retransmissions are the sender's data segments sent a second time (ns-3's
TcpSocketBase "Tx" trace, as its own `Retransmission` trace counts them).

The experiment is a few lines of C++ compiled once per process through the
wheel's cppyy bindings (a Python callback per packet would dominate the cost).
"""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["NS3_VERSION", "Ns3MissingError", "load", "ns3_missing", "ns3_transfer"]

NS3_VERSION = "3.44"

_CPP = r"""
#include "ns3/core-module.h"
#include "ns3/network-module.h"
#include "ns3/internet-module.h"
#include "ns3/point-to-point-module.h"
#include "ns3/applications-module.h"
#include <set>
#include <vector>
namespace fedsim_ns3 {
using namespace ns3;
static uint64_t g_rx = 0, g_want = 0, g_sent = 0;
static double g_done = -1;
static std::set<uint32_t> g_seqs;
static void OnRx(Ptr<const Packet> p, const Address&) {
  g_rx += p->GetSize();
  if (g_done < 0 && g_rx >= g_want) { g_done = Simulator::Now().GetSeconds(); Simulator::Stop(); }
}
static void OnTcpTx(Ptr<const Packet> p, const TcpHeader& h, Ptr<const TcpSocketBase>) {
  if (p->GetSize() > 0) { g_sent++; g_seqs.insert(h.GetSequenceNumber().GetValue()); }
}
static void Hook(Ptr<Application> app) {
  Ptr<Socket> s = DynamicCast<BulkSendApplication>(app)->GetSocket();
  if (s) { s->TraceConnectWithoutContext("Tx", MakeCallback(&OnTcpTx)); }
}
std::vector<double> Transfer(double bw, double delay, uint64_t size, double loss, uint32_t run,
                             bool hystart, double limit) {
  g_rx = 0; g_want = size; g_sent = 0; g_done = -1; g_seqs.clear();
  RngSeedManager::SetSeed(1); RngSeedManager::SetRun(run);
  Config::SetDefault("ns3::TcpL4Protocol::SocketType", StringValue("ns3::TcpCubic"));
  Config::SetDefault("ns3::TcpCubic::HyStart", BooleanValue(hystart));
  Config::SetDefault("ns3::TcpSocket::SegmentSize", UintegerValue(1448));
  Config::SetDefault("ns3::TcpSocket::InitialCwnd", UintegerValue(10));
  Config::SetDefault("ns3::TcpSocket::DelAckCount", UintegerValue(2));
  Config::SetDefault("ns3::TcpSocket::DelAckTimeout", TimeValue(MilliSeconds(200)));
  Config::SetDefault("ns3::TcpSocket::SndBufSize", UintegerValue(131072));
  Config::SetDefault("ns3::TcpSocket::RcvBufSize", UintegerValue(131072));
  Config::SetDefault("ns3::TcpSocket::ConnTimeout", TimeValue(Seconds(3)));
  Config::SetDefault("ns3::TcpSocket::TcpNoDelay", BooleanValue(true));
  Config::SetDefault("ns3::TcpSocketBase::MinRto", TimeValue(Seconds(1)));
  Config::SetDefault("ns3::TcpSocketBase::Sack", BooleanValue(true));
  Config::SetDefault("ns3::TcpSocketBase::Timestamp", BooleanValue(true));
  Config::SetDefault("ns3::TcpSocketBase::WindowScaling", BooleanValue(true));
  Config::SetDefault("ns3::RttEstimator::InitialEstimation", TimeValue(Seconds(1)));
  NodeContainer nodes; nodes.Create(2);
  PointToPointHelper p2p;
  p2p.SetDeviceAttribute("DataRate", DataRateValue(DataRate((uint64_t)bw)));
  p2p.SetDeviceAttribute("Mtu", UintegerValue(1500));
  p2p.SetChannelAttribute("Delay", TimeValue(Seconds(delay)));
  p2p.SetQueue("ns3::DropTailQueue<Packet>", "MaxSize", QueueSizeValue(QueueSize("100p")));
  NetDeviceContainer devs = p2p.Install(nodes);
  if (loss > 0) {
    Ptr<RateErrorModel> em = CreateObject<RateErrorModel>();
    em->SetAttribute("ErrorRate", DoubleValue(loss));
    em->SetAttribute("ErrorUnit", StringValue("ERROR_UNIT_PACKET"));
    devs.Get(1)->SetAttribute("ReceiveErrorModel", PointerValue(em));
  }
  InternetStackHelper stack; stack.Install(nodes);
  Ipv4AddressHelper addr; addr.SetBase("10.1.1.0", "255.255.255.0");
  Ipv4InterfaceContainer ifs = addr.Assign(devs);
  uint16_t port = 9;
  BulkSendHelper src("ns3::TcpSocketFactory", InetSocketAddress(ifs.GetAddress(1), port));
  src.SetAttribute("MaxBytes", UintegerValue(size));
  src.SetAttribute("SendSize", UintegerValue(1448));
  ApplicationContainer sa = src.Install(nodes.Get(0));
  sa.Start(Seconds(0));
  PacketSinkHelper sink("ns3::TcpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), port));
  ApplicationContainer ka = sink.Install(nodes.Get(1));
  ka.Start(Seconds(0));
  ka.Get(0)->TraceConnectWithoutContext("Rx", MakeCallback(&OnRx));
  Simulator::Schedule(NanoSeconds(1), &Hook, sa.Get(0));
  Simulator::Stop(Seconds(limit));
  Simulator::Run();
  Simulator::Destroy();
  return {g_done, (double)(g_sent - g_seqs.size())};
}
}
"""


class Ns3MissingError(RuntimeError):
    """The optional ns-3 wheel is not installed (or does not load)."""


def ns3_missing() -> str | None:
    """Why ns-3 cannot run here (None when it can): the extra is optional."""
    try:
        _transfer_fn()
    except Ns3MissingError as exc:
        return str(exc)
    return None


def load() -> None:
    """Load ns-3 and compile the experiment (once per process, tens of seconds)."""
    _transfer_fn()


@cache
def _transfer_fn() -> Any:
    try:
        import cppyy  # type: ignore[import-not-found]
        from ns import ns  # type: ignore[import-not-found]  # noqa: F401 - loads ns-3's libraries
    except Exception as exc:  # ImportError, or a wheel that fails to load its libraries
        raise Ns3MissingError(
            f"ns-3 is not installed ({type(exc).__name__}): pip install 'fedsim[ns3]'"
        ) from None
    cppyy.cppdef(_CPP)
    return cppyy.gbl.fedsim_ns3.Transfer


def ns3_transfer(
    bandwidth_bps: float,
    latency_s: float,
    size_bytes: int,
    *,
    loss: float = 0.0,
    run: int = 1,
    hystart: bool = True,
    limit_s: float = 1e6,
) -> tuple[float | None, int]:
    """One ns-3 run (RngRun `run`): (seconds to the receiver's last byte, or None when
    the transfer did not finish: connect timed out or `limit_s` passed; retransmissions)."""
    fn = _transfer_fn()
    done, retx = fn(float(bandwidth_bps), float(latency_s), int(size_bytes), float(loss),
                    int(run), bool(hystart), float(limit_s))  # fmt: skip
    return (float(done) if done >= 0 else None), int(retx)

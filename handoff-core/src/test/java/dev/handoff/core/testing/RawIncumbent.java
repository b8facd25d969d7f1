package dev.handoff.core.testing;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.handoff.core.channel.Channels;
import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.FdServer;
import dev.handoff.core.fd.Lifeline;
import dev.handoff.core.manifest.ConnectionEntry;
import dev.handoff.core.manifest.ListenerEntry;
import dev.handoff.core.manifest.Manifest;
import dev.handoff.core.manifest.ManifestJson;
import dev.handoff.core.wire.Message;
import dev.handoff.core.wire.ProtocolVersions;
import dev.handoff.core.wire.WireChannel;

import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An incumbent that speaks the protocol by hand, serving one listener named "main" on the given port,
 * and stops at a given step, printing {@code AT <step>}, so that a test can kill it there. Steps:
 * accepted (a successor connected), welcome, manifest (sent with the listener), ready (READY received and
 * confirmed), connections (the first three client connections accepted on the listener are sent to the
 * successor, one batch each, back to back, and this process then halts at once, before it can read an
 * answer: the later batches are still queued on the successor's side). Speaks protocol version 2, with a
 * lifeline. Prints {@code LISTENING} first.
 */
public final class RawIncumbent {

    public static void main(String[] args) throws Exception {
        Path socket = Path.of(args[0]);
        int port = Integer.parseInt(args[1]);
        String stopAt = args[2];
        ServerSocketChannel listener = ServerSocketChannel.open(StandardProtocolFamily.INET).bind(new InetSocketAddress("127.0.0.1", port));
        FdServer server = FdServer.bind(socket, FdLimits.DEFAULT);
        int bound = ((InetSocketAddress) listener.getLocalAddress()).getPort(); // the kernel's, when asked for 0
        System.out.println("PORT " + bound);
        System.out.println("LISTENING");
        List<SocketChannel> clients = new ArrayList<>();
        while (stopAt.equals("connections") && clients.size() < 3) {
            clients.add(listener.accept());
        }
        Lifeline lifeline = Lifeline.create();
        WireChannel wire = new WireChannel(server.accept());
        pause("accepted", stopAt);
        wire.receive(Duration.ofSeconds(10), Message.Hello.class).close();
        wire.send(new Message.Welcome(ProtocolVersions.CONFIRMED_READY, ProcessHandle.current().pid(), 1,
                FdChannel.maxFdsPerMessage(), List.of(Message.LIFELINE), null, null, 0), List.of(lifeline.peerEnd()));
        pause("welcome", stopAt);
        Manifest manifest = new Manifest(Manifest.SCHEMA, ProcessHandle.current().pid(), 1, List.of(new ListenerEntry(
                "main", ListenerEntry.Protocol.TCP, "INET", "127.0.0.1", bound, 0, Map.of())), List.of(), null);
        wire.send(new Message.Handover(ManifestJson.toTree(manifest)), List.of(Channels.fileDescriptor(listener)));
        pause("manifest", stopAt);
        wire.receive(Duration.ofSeconds(30), Message.Ready.class).close();
        wire.send(new Message.Confirmed(0));
        pause("ready", stopAt);
        if (!clients.isEmpty()) {
            for (SocketChannel client : clients) {
                InetSocketAddress local = (InetSocketAddress) client.getLocalAddress();
                InetSocketAddress remote = (InetSocketAddress) client.getRemoteAddress();
                ConnectionEntry entry = new ConnectionEntry("main", 0, local.getAddress().getHostAddress(), local.getPort(),
                        remote.getAddress().getHostAddress(), remote.getPort(), JsonNodeFactory.instance.nullNode(), new byte[0]);
                wire.send(new Message.Connections(ManifestJson.connectionsToTree(List.of(entry))),
                        List.of(Channels.fileDescriptor(client)));
            }
            Runtime.getRuntime().halt(0);
        }
    }

    private static void pause(String step, String stopAt) throws InterruptedException {
        if (step.equals(stopAt)) {
            System.out.println("AT " + step);
            Thread.sleep(Long.MAX_VALUE);
        }
    }
}

package dev.handoff.core.fd;

import dev.handoff.core.channel.Channels;
import dev.handoff.core.manifest.ConnectionEntry;
import dev.handoff.core.manifest.InvalidManifestException;
import dev.handoff.core.manifest.ManifestValidator;
import dev.handoff.core.testing.OpenFds;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.DatagramChannel;
import java.nio.channels.Pipe;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link FdInspector#describeConnection} reads a connection's peer from the kernel's raw address; these
 * check it against what the JDK itself says about the same sockets, both ends, in every family a
 * handed-over connection can have, and that nothing else passes for a connection.
 */
@Timeout(30)
class FdInspectorTest {

    @ParameterizedTest(name = "{0} socket to {1}")
    @CsvSource({"INET, 127.0.0.1", "INET6, ::1", "INET6, 127.0.0.1"}) // the last: IPv4-mapped, as a dual-stack server sees it
    void aConnectionIsDescribedByItsPeerAsTheJdkSeesItInEveryFamily(StandardProtocolFamily family, String host)
            throws Exception {
        assertTrue(JunixsocketInternals.readsPeerNames(), "the peer is read in one getpeername, not through the JDK");
        OpenFds before = OpenFds.snapshot();
        try (ServerSocketChannel listener = ServerSocketChannel.open(family)
                .bind(new InetSocketAddress(InetAddress.getByName(host), 0));
             SocketChannel client = SocketChannel.open(family)) {
            client.connect(listener.getLocalAddress());
            try (SocketChannel served = listener.accept()) {
                for (SocketChannel end : new SocketChannel[]{served, client}) {
                    FdDescription description = FdInspector.describeConnection(Channels.fileDescriptor(end));
                    assertEquals(FdType.TCP_CONNECTION, description.type());
                    assertEquals(family, description.family(), "the socket's own family, from its address");
                    assertEquals(end.getRemoteAddress(), description.remoteAddress());
                    assertEquals(((InetSocketAddress) end.getRemoteAddress()).getAddress().getHostAddress(),
                            description.remoteAddress().getAddress().getHostAddress(), "as the manifest writes it");
                    assertNull(description.localAddress(), "left to the channel, which reads it anyway");
                }
            }
        }
        before.assertNoLeak();
    }

    @Test
    void nothingButAConnectedTcpSocketIsDescribedAsAConnection() throws Exception {
        Path directory = Files.createTempDirectory("inspector");
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel unconnected = SocketChannel.open();
             DatagramChannel datagram = DatagramChannel.open().connect(listener.getLocalAddress());
             ServerSocketChannel unixListener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                     .bind(UnixDomainSocketAddress.of(directory.resolve("s")));
             SocketChannel unix = SocketChannel.open(unixListener.getLocalAddress())) {
            Pipe pipe = Pipe.open();
            try (Pipe.SourceChannel source = pipe.source(); Pipe.SinkChannel sink = pipe.sink()) {
                assertEquals(FdType.TCP_LISTENER, connectionType(listener));
                assertEquals(FdType.TCP_CONNECTION, FdInspector.describe(Channels.fileDescriptor(unconnected)).type());
                InvalidManifestException unconnectedError = assertThrows(InvalidManifestException.class,
                        () -> ManifestValidator.validateConnection(new ConnectionEntry("http", 0, "127.0.0.1", 1,
                                "127.0.0.1", 2, null, null), FdInspector.describeConnection(Channels.fileDescriptor(unconnected))));
                assertTrue(unconnectedError.getMessage().contains("not connected"), unconnectedError.getMessage());
                assertEquals(FdType.UDP, connectionType(datagram), "connected, so it has a peer, but not TCP");
                assertEquals(FdType.UNIX_SOCKET, connectionType(unix));
                assertEquals(FdType.PIPE, connectionType(source));
            }
        } finally {
            Files.deleteIfExists(directory.resolve("s"));
            Files.delete(directory);
        }
    }

    private static FdType connectionType(java.nio.channels.Channel channel) throws Exception {
        return FdInspector.describeConnection(Channels.fileDescriptor(channel)).type();
    }
}

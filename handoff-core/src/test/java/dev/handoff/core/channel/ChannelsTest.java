package dev.handoff.core.channel;

import dev.handoff.core.fd.FdInspector;
import dev.handoff.core.fd.FdType;
import dev.handoff.core.fd.Fds;
import dev.handoff.core.testing.Loopback;
import dev.handoff.core.testing.OpenFds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.Pipe;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** JDK channels rebuilt from descriptors that made a real SCM_RIGHTS trip, used with a standard Selector. */
@Timeout(60)
class ChannelsTest {

    @TempDir
    Path temp;

    private OpenFds before;
    private Loopback loopback;

    @BeforeEach
    void setUp() throws Exception {
        before = OpenFds.snapshot();
        loopback = new Loopback(temp);
    }

    @AfterEach
    void tearDown() throws Exception {
        loopback.close();
        before.assertNoLeak();
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void listenerAcceptsThroughASelector(String host) throws Exception {
        InetAddress address = InetAddress.getByName(host);
        StandardProtocolFamily family = host.contains(":") ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
        try (ServerSocketChannel original = ServerSocketChannel.open(family).bind(new InetSocketAddress(address, 0))) {
            FileDescriptor received = loopback.roundTrip(Channels.fileDescriptor(original));
            assertEquals(FdType.TCP_LISTENER, FdInspector.describe(received).type());
            try (ServerSocketChannel rebuilt = Channels.serverSocketChannel(received);
                 Selector selector = Selector.open()) {
                assertEquals(original.getLocalAddress(), rebuilt.getLocalAddress());
                original.close(); // the kernel socket lives on through the received descriptor
                rebuilt.configureBlocking(false);
                rebuilt.register(selector, SelectionKey.OP_ACCEPT);
                try (SocketChannel client = SocketChannel.open(rebuilt.getLocalAddress())) {
                    assertEquals(1, selector.select(5000));
                    try (SocketChannel served = rebuilt.accept()) {
                        served.write(ByteBuffer.wrap("hi".getBytes(StandardCharsets.US_ASCII)));
                        ByteBuffer answer = ByteBuffer.allocate(2);
                        client.read(answer);
                        assertEquals("hi", new String(answer.array(), StandardCharsets.US_ASCII));
                    }
                }
            }
        }
    }

    @Test
    void connectedSocketKeepsItsPeer() throws Exception {
        try (ServerSocketChannel listener = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
             SocketChannel client = SocketChannel.open(listener.getLocalAddress());
             SocketChannel served = listener.accept()) {
            FileDescriptor received = loopback.roundTrip(Channels.fileDescriptor(served));
            try (SocketChannel rebuilt = Channels.socketChannel(received)) {
                assertEquals(client.getLocalAddress(), rebuilt.getRemoteAddress());
                client.write(ByteBuffer.wrap("ping".getBytes(StandardCharsets.US_ASCII)));
                ByteBuffer buffer = ByteBuffer.allocate(4);
                while (buffer.hasRemaining()) {
                    rebuilt.read(buffer);
                }
                assertEquals("ping", new String(buffer.array(), StandardCharsets.US_ASCII));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"127.0.0.1", "::1"})
    void datagramSocketSendsAndReceives(String host) throws Exception {
        InetAddress address = InetAddress.getByName(host);
        StandardProtocolFamily family = host.contains(":") ? StandardProtocolFamily.INET6 : StandardProtocolFamily.INET;
        try (DatagramChannel original = DatagramChannel.open(family).bind(new InetSocketAddress(address, 0));
             DatagramChannel peer = DatagramChannel.open(family).bind(new InetSocketAddress(address, 0))) {
            FileDescriptor received = loopback.roundTrip(Channels.fileDescriptor(original));
            try (DatagramChannel rebuilt = Channels.datagramChannel(received)) {
                assertEquals(original.getLocalAddress(), rebuilt.getLocalAddress());
                peer.send(ByteBuffer.wrap(new byte[]{7}), rebuilt.getLocalAddress());
                ByteBuffer in = ByteBuffer.allocate(8);
                InetSocketAddress from = (InetSocketAddress) rebuilt.receive(in);
                assertEquals(peer.getLocalAddress(), from);
                rebuilt.send(ByteBuffer.wrap(new byte[]{8}), from);
                ByteBuffer back = ByteBuffer.allocate(8);
                peer.receive(back);
                assertEquals(8, back.get(0));
            }
        }
    }

    @Test
    void inspectorTellsFilesPipesAndSocketsApart() throws Exception {
        Path file = Files.writeString(temp.resolve("f"), "x");
        try (FileInputStream in = new FileInputStream(file.toFile())) {
            assertEquals(FdType.FILE, FdInspector.describe(in.getFD()).type());
        }
        Pipe pipe = Pipe.open();
        try (Pipe.SourceChannel source = pipe.source(); Pipe.SinkChannel sink = pipe.sink()) {
            FileDescriptor received = loopback.roundTrip(Channels.fileDescriptor(sink));
            assertEquals(FdType.PIPE, FdInspector.describe(received).type());
            try (java.io.FileOutputStream writer = new java.io.FileOutputStream(received)) {
                writer.write(9); // through the pipe end that made the trip
            }
            ByteBuffer read = ByteBuffer.allocate(1);
            source.read(read);
            assertEquals(9, read.get(0));
        }
    }

    @Test
    void aFileIsNotRebuiltAsAListener() throws Exception {
        Path file = Files.writeString(temp.resolve("f"), "x");
        try (FileInputStream in = new FileInputStream(file.toFile())) {
            IOException e = assertThrows(IOException.class, () -> Channels.serverSocketChannel(in.getFD()));
            assertTrue(e.getMessage().contains("expected a TCP_LISTENER"), e.getMessage());
            assertTrue(in.getFD().valid(), "a refused descriptor stays with its owner");
            assertTrue(Fds.number(in.getFD()) > 2);
        }
    }
}

package dev.handoff.benchmarks;

import org.newsclub.net.unix.AFUNIXServerSocket;
import org.newsclub.net.unix.AFUNIXSocket;
import org.newsclub.net.unix.AFUNIXSocketAddress;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;

/**
 * The same transfer as {@link FdChannelBenchmark} with junixsocket's public API alone: one one-byte
 * sendmsg and one recvmsg per batch, no framing, no checks: the floor for JVM code on this transport.
 * junixsocket's API receives at most 60 descriptors per message, hence no batch of 253 here.
 */
@State(Scope.Thread)
public class JunixsocketBaselineBenchmark extends FdBenchmarkSettings {

    @Param({"1", "60"})
    public int batch;

    private FileInputStream file;
    private FileDescriptor[] fds;
    private AFUNIXServerSocket server;
    private AFUNIXSocket sender;
    private AFUNIXSocket receiver;
    private OutputStream out;
    private InputStream in;
    private final byte[] buffer = new byte[1];

    @Setup
    public void setUp() throws Exception {
        Path directory = Endpoints.directory();
        file = Endpoints.openFile(directory);
        fds = Endpoints.descriptors(file, batch).toArray(new FileDescriptor[0]);
        AFUNIXSocketAddress address = AFUNIXSocketAddress.of(directory.resolve("raw.sock"));
        server = AFUNIXServerSocket.newInstance();
        server.bind(address);
        sender = AFUNIXSocket.newInstance();
        receiver = Endpoints.acceptWhile(server::accept, () -> {
            sender.connect(address);
            return null;
        });
        receiver.setAncillaryReceiveBufferSize(4096);
        out = sender.getOutputStream();
        in = receiver.getInputStream();
    }

    @TearDown
    public void tearDown() throws IOException {
        Endpoints.close(sender, receiver, server, file);
    }

    @Benchmark
    public int sendReceiveClose() throws IOException {
        sender.setOutboundFileDescriptors(fds);
        out.write(buffer);
        if (in.read(buffer) != 1) {
            throw new IOException("short read");
        }
        FileDescriptor[] received = receiver.getReceivedFileDescriptors();
        for (FileDescriptor fd : received) {
            // Closing through a stream also drops the fd from junixsocket's list of received fds.
            new FileInputStream(fd).close();
        }
        return received.length;
    }
}

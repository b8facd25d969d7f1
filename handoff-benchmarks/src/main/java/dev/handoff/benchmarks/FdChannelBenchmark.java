package dev.handoff.benchmarks;

import dev.handoff.core.fd.FdChannel;
import dev.handoff.core.fd.FdLimits;
import dev.handoff.core.fd.FdMessage;
import dev.handoff.core.fd.FdServer;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Messages per second through {@link FdChannel}: send {@code batch} descriptors, receive them (framing,
 * limit checks, taking ownership), close them. Descriptors per second = score × batch.
 */
@State(Scope.Thread)
public class FdChannelBenchmark extends FdBenchmarkSettings {

    @Param({"1", "60", "253"})
    public int batch;

    private FileInputStream file;
    private List<FileDescriptor> fds;
    private FdServer server;
    private FdChannel sender;
    private FdChannel receiver;
    private final byte[] payload = new byte[1];

    @Setup
    public void setUp() throws Exception {
        Path directory = Endpoints.directory();
        file = Endpoints.openFile(directory);
        fds = Endpoints.descriptors(file, batch);
        server = FdServer.bind(directory.resolve("run").resolve("bench.sock"), FdLimits.DEFAULT);
        receiver = Endpoints.acceptWhile(server::accept,
                () -> sender = FdChannel.connect(server.path(), FdLimits.DEFAULT));
    }

    @TearDown
    public void tearDown() throws IOException {
        Endpoints.close(sender, receiver, server, file);
    }

    @Benchmark
    public int sendReceiveClose() throws IOException {
        sender.send(payload, fds);
        try (FdMessage message = receiver.receive()) {
            return message.fdCount();
        }
    }
}

package dev.handoff.benchmarks;

import java.io.Closeable;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** What the fd-transfer benchmarks share: a file whose descriptor is sent, and an accept helper. */
final class Endpoints {

    private Endpoints() {
    }

    /** A fresh 0700 directory for sockets, with a file to send the descriptor of. */
    static Path directory() throws IOException {
        return Files.createTempDirectory("handoff-bench");
    }

    /** {@code batch} copies of one open file's descriptor (SCM_RIGHTS may carry the same fd many times). */
    static List<FileDescriptor> descriptors(FileInputStream file, int batch) throws IOException {
        FileDescriptor[] same = new FileDescriptor[batch];
        Arrays.fill(same, file.getFD());
        return List.of(same);
    }

    static FileInputStream openFile(Path directory) throws IOException {
        return new FileInputStream(Files.writeString(directory.resolve("file"), "x").toFile());
    }

    static void close(Closeable... resources) throws IOException {
        for (Closeable resource : resources) {
            resource.close();
        }
    }

    /** Runs {@code accept} on another thread while {@code connect} runs here; returns what accept got. */
    static <T> T acceptWhile(Callable<T> accept, Callable<?> connect) throws Exception {
        CompletableFuture<T> accepted = CompletableFuture.supplyAsync(() -> {
            try {
                return accept.call();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        connect.call();
        return accepted.get(10, TimeUnit.SECONDS);
    }
}

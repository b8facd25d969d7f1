package dev.handoff.core.fd;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import java.io.ByteArrayInputStream;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Feeds the fd channel's frame decoder any bytes at all, with real descriptors arriving alongside any read
 * (as SCM_RIGHTS data arrives with the bytes it was sent with): each input is either messages or one clear
 * {@link FdChannelException}, never another exception, a hang or an allocation past the limit; a message
 * owns exactly the descriptors that arrived with it, and once each message and each failure is closed the
 * way {@link FdChannel} closes it, no descriptor is left open. Runs the kept inputs
 * (src/test/resources/.../FrameDecoderFuzzTestInputs) in every build; fuzzes with {@code JAZZER_FUZZ=1}
 * (see README, "Fuzzing").
 */
class FrameDecoderFuzzTest {

    private static final FdLimits LIMITS = new FdLimits(1 << 16, 1000);

    @FuzzTest(maxDuration = "30s")
    void anyBytesAndDescriptorsAreMessagesOrAClearErrorAndNoneLeaks(FuzzedDataProvider data) throws IOException {
        // For each read, in order: how many descriptors arrive with it (0 to 3).
        byte[] arrivals = data.consumeBytes(data.consumeInt(0, 32));
        ByteArrayInputStream bytes = new ByteArrayInputStream(data.consumeRemainingAsBytes());
        List<FileDescriptor> delivered = new ArrayList<>();
        int[] reads = {0};
        FrameDecoder.Source source = new FrameDecoder.Source() {
            @Override
            public int read(byte[] buffer, int offset, int length, List<FileDescriptor> fds, String stalled) {
                int count = reads[0] < arrivals.length ? arrivals[reads[0]] & 3 : 0;
                reads[0]++;
                for (int i = 0; i < count; i++) {
                    FileDescriptor fd = openNull();
                    delivered.add(fd);
                    fds.add(fd);
                }
                return bytes.read(buffer, offset, length);
            }

            @Override
            public String endOfStream() {
                return "end of input";
            }
        };
        try {
            while (true) {
                List<FileDescriptor> collected = new ArrayList<>();
                try (FdMessage message = FrameDecoder.decode(source, LIMITS, collected)) {
                    if (message.payload().length > LIMITS.maxPayloadBytes() || message.fdCount() > LIMITS.maxFds()) {
                        throw new AssertionError("decoded past the limits: " + message.payload().length + " bytes, "
                                + message.fdCount() + " descriptors");
                    }
                    if (message.fdCount() != collected.size()) {
                        throw new AssertionError(collected.size() + " descriptors arrived with a message that owns "
                                + message.fdCount());
                    }
                } catch (FdChannelException expected) {
                    Fds.closeQuietly(collected); // what FdChannel.receive does on every error
                    if (expected.getMessage() == null || expected.getMessage().isBlank()) {
                        throw new AssertionError("an error without a reason", expected);
                    }
                    return;
                }
            }
        } finally {
            for (FileDescriptor fd : delivered) {
                if (fd.valid()) {
                    Fds.closeQuietly(fd);
                    throw new AssertionError("a descriptor that arrived was left open");
                }
            }
        }
    }

    private static FileDescriptor openNull() {
        try {
            return new FileInputStream("/dev/null").getFD();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

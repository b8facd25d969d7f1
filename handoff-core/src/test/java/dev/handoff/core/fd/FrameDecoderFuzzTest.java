package dev.handoff.core.fd;

import com.code_intelligence.jazzer.junit.FuzzTest;

import java.io.ByteArrayInputStream;
import java.io.FileDescriptor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Feeds the fd channel's frame decoder any bytes at all: each input is either messages or one clear
 * {@link FdChannelException}, never another exception, a hang or an allocation past the limit. Runs the
 * kept inputs (src/test/resources/.../FrameDecoderFuzzTestInputs) in every build; fuzzes with
 * {@code JAZZER_FUZZ=1} (see README, "Fuzzing").
 */
class FrameDecoderFuzzTest {

    private static final FdLimits LIMITS = new FdLimits(1 << 16, 1000);

    @FuzzTest(maxDuration = "30s")
    void anyBytesAreMessagesOrAClearError(byte[] input) throws IOException {
        ByteArrayInputStream bytes = new ByteArrayInputStream(input);
        FrameDecoder.Source source = new FrameDecoder.Source() {
            @Override
            public int read(byte[] buffer, int offset, int length, List<FileDescriptor> fds, String stalled) {
                return bytes.read(buffer, offset, length);
            }

            @Override
            public String endOfStream() {
                return "end of input";
            }
        };
        try {
            while (true) {
                FdMessage message = FrameDecoder.decode(source, LIMITS, new ArrayList<>());
                if (message.payload().length > LIMITS.maxPayloadBytes() || message.fdCount() != 0) {
                    throw new AssertionError("decoded past the limits: " + message.payload().length + " bytes, "
                            + message.fdCount() + " descriptors");
                }
            }
        } catch (FdChannelException expected) {
            if (expected.getMessage() == null || expected.getMessage().isBlank()) {
                throw new AssertionError("an error without a reason", expected);
            }
        }
    }
}

package dev.handoff.core.internal;

import java.lang.invoke.MethodHandle;
import java.lang.reflect.Array;
import java.util.Optional;

/**
 * C library functions of {@code int} arguments returning {@code int}, called through the foreign-function
 * API where the JDK has it (22 and later, with native access allowed). Looked up by reflection: this
 * library is compiled for Java 17, where callers fall back to what the JDK offers or do without.
 */
public final class Libc {

    private Libc() {
    }

    /**
     * A handle of type {@code (int...)int} for {@code name} with {@code arity} int parameters, the ones from
     * {@code firstVariadic} on passed as variadic arguments (-1: none); empty before JDK 22, when native access
     * is refused, or when the C library has no such function.
     */
    public static Optional<MethodHandle> intFunction(String name, int arity, int firstVariadic) {
        try {
            Class<?> linkerType = Class.forName("java.lang.foreign.Linker");
            Class<?> optionType = Class.forName("java.lang.foreign.Linker$Option");
            Class<?> layoutType = Class.forName("java.lang.foreign.MemoryLayout");
            Class<?> descriptorType = Class.forName("java.lang.foreign.FunctionDescriptor");
            Class<?> segmentType = Class.forName("java.lang.foreign.MemorySegment");
            Object linker = linkerType.getMethod("nativeLinker").invoke(null);
            Object lookup = linkerType.getMethod("defaultLookup").invoke(linker);
            Optional<?> symbol = (Optional<?>) Class.forName("java.lang.foreign.SymbolLookup")
                    .getMethod("find", String.class).invoke(lookup, name);
            if (symbol.isEmpty()) {
                return Optional.empty();
            }
            Object javaInt = Class.forName("java.lang.foreign.ValueLayout").getField("JAVA_INT").get(null);
            Object arguments = Array.newInstance(layoutType, arity);
            for (int i = 0; i < arity; i++) {
                Array.set(arguments, i, javaInt);
            }
            Object descriptor = descriptorType.getMethod("of", layoutType, arguments.getClass())
                    .invoke(null, javaInt, arguments);
            Object options = Array.newInstance(optionType, firstVariadic < 0 ? 0 : 1);
            if (firstVariadic >= 0) {
                Array.set(options, 0, optionType.getMethod("firstVariadicArg", int.class).invoke(null, firstVariadic));
            }
            return Optional.of((MethodHandle) linkerType.getMethod("downcallHandle", segmentType, descriptorType, options.getClass())
                    .invoke(linker, symbol.get(), descriptor, options));
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            return Optional.empty(); // before JDK 22, or native access refused
        }
    }
}

// Golden vectors for the zk-rs `jute` crate, produced by ZooKeeper's own Jute classes.
//
// Builds deterministic sample values of Jute records by reflection, with exactly the algorithm
// of `jute::codec::SampleGen` (see jute/src/codec.rs), and serializes them with Java's
// BinaryOutputArchive. Run by jute/tests/golden.rs; compile and run by hand with
//
//   CP=/usr/share/java/zookeeper-jute.jar:/usr/share/java/zookeeper.jar
//   javac -d /tmp/golden -cp $CP jute/golden/Golden.java
//   java -cp /tmp/golden:$CP Golden list
//   java -cp /tmp/golden:$CP Golden gen 0 8 org.apache.zookeeper.data.Stat
//   java -cp /tmp/golden:$CP Golden check < lines
//
// Modes:
//   list                      every concrete Record class in the jar holding org.apache.jute.Record
//   gen FROM TO [CLASS...]    for each class (arguments, else one per stdin line) and each seed in
//                             [FROM, TO): print `ClassName seed hex`
//   check                     read `ClassName seed hex` lines (e.g. written by Rust) from stdin;
//                             deserialize each with BinaryInputArchive, require every byte to be
//                             consumed, re-serialize and require the same bytes, and require the
//                             value to equal Java's own sample for that seed. Prints one
//                             `MISMATCH ...` line per failure; exit status 1 if there was any.
//   strings                   read one hex byte string per stdin line, decode it as a ustring body
//                             with BinaryInputArchive.readString and print, per line, the UTF-16
//                             code units of the result and its re-encoding by writeString
//                             (`units reencoded`, each hex, `-` when empty)

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.lang.reflect.Constructor;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

import org.apache.jute.BinaryInputArchive;
import org.apache.jute.BinaryOutputArchive;
import org.apache.jute.Record;

public final class Golden {

    /** The counter of SampleGen: incremented before each primitive draw. */
    static final class Gen {
        long k;

        Gen(long seed) {
            k = seed;
        }

        long next() {
            k += 1; // wraps like Rust's wrapping_add
            return k;
        }
    }

    static Object sample(Type t, Gen g) throws Exception {
        if (t == byte.class) {
            return (byte) (g.next() * 37L);
        }
        if (t == boolean.class) {
            return (g.next() & 1L) == 1L;
        }
        if (t == int.class) {
            return ((int) g.next()) * -1640531535;
        }
        if (t == long.class) {
            return g.next() * -7046029254386353131L;
        }
        if (t == float.class) {
            return (float) g.next() * 0.5f;
        }
        if (t == double.class) {
            return (double) g.next() * 0.25;
        }
        if (t == String.class) {
            long k = g.next();
            long m = Math.floorMod(k, 3L);
            String tail = m == 0 ? "\u00e9" : m == 1 ? "/\u00fc\u20ac" : "";
            return "s" + k + tail;
        }
        if (t == byte[].class) {
            long k = g.next();
            if (Math.floorMod(k, 5L) == 0) {
                return null;
            }
            int n = (int) Math.floorMod(k, 7L);
            byte[] b = new byte[n];
            for (int i = 0; i < n; i++) {
                b[i] = (byte) (k + 31L * i);
            }
            return b;
        }
        if (t instanceof ParameterizedType) {
            ParameterizedType p = (ParameterizedType) t;
            Class<?> raw = (Class<?>) p.getRawType();
            Type[] args = p.getActualTypeArguments();
            if (List.class.isAssignableFrom(raw)) {
                long n = Math.floorMod(g.next(), 3L);
                List<Object> l = new ArrayList<>();
                for (long i = 0; i < n; i++) {
                    l.add(sample(args[0], g));
                }
                return l;
            }
            if (Map.class.isAssignableFrom(raw)) {
                // Java's maps are TreeMaps: keys come out sorted and duplicates collapse, so a
                // map sample only matches the Rust one when its keys are already ascending.
                long n = Math.floorMod(g.next(), 3L);
                TreeMap<Object, Object> m = new TreeMap<>();
                for (long i = 0; i < n; i++) {
                    Object key = sample(args[0], g);
                    m.put(key, sample(args[1], g));
                }
                return m;
            }
        }
        if (t instanceof Class && Record.class.isAssignableFrom((Class<?>) t)) {
            return sampleRecord((Class<?>) t, g);
        }
        throw new IllegalArgumentException("unsupported field type " + t.getTypeName());
    }

    /** The all-args constructor: its parameters are the fields in IDL order. */
    static Constructor<?> allArgs(Class<?> c) {
        Constructor<?> best = null;
        for (Constructor<?> k : c.getConstructors()) {
            if (best == null || k.getParameterCount() > best.getParameterCount()) {
                best = k;
            }
        }
        if (best == null) {
            throw new IllegalArgumentException(c.getName() + " has no public constructor");
        }
        return best;
    }

    static Object sampleRecord(Class<?> c, Gen g) throws Exception {
        Constructor<?> k = allArgs(c);
        Type[] ts = k.getGenericParameterTypes();
        Object[] args = new Object[ts.length];
        for (int i = 0; i < ts.length; i++) {
            args[i] = sample(ts[i], g);
        }
        return k.newInstance(args);
    }

    static byte[] serialize(Record r) throws IOException {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        r.serialize(BinaryOutputArchive.getArchive(bo), "");
        return bo.toByteArray();
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder(b.length * 2);
        for (byte x : b) {
            s.append(Character.forDigit((x >> 4) & 0xf, 16));
            s.append(Character.forDigit(x & 0xf, 16));
        }
        return s.toString();
    }

    static byte[] unhex(String s) {
        if (s.length() % 2 != 0) {
            throw new IllegalArgumentException("odd hex length");
        }
        byte[] b = new byte[s.length() / 2];
        for (int i = 0; i < b.length; i++) {
            int hi = Character.digit(s.charAt(2 * i), 16);
            int lo = Character.digit(s.charAt(2 * i + 1), 16);
            if (hi < 0 || lo < 0) {
                throw new IllegalArgumentException("bad hex digit");
            }
            b[i] = (byte) ((hi << 4) | lo);
        }
        return b;
    }

    static Class<?> recordClass(String name) throws ClassNotFoundException {
        Class<?> c = Class.forName(name);
        if (!Record.class.isAssignableFrom(c)) {
            throw new IllegalArgumentException(name + " is not an org.apache.jute.Record");
        }
        return c;
    }

    static List<String> stdinLines() throws IOException {
        List<String> out = new ArrayList<>();
        BufferedReader r =
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line; (line = r.readLine()) != null; ) {
            if (!line.trim().isEmpty()) {
                out.add(line.trim());
            }
        }
        return out;
    }

    static void list() throws Exception {
        File jar = new File(Record.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        TreeSet<String> names = new TreeSet<>();
        try (JarFile jf = new JarFile(jar)) {
            for (Enumeration<JarEntry> e = jf.entries(); e.hasMoreElements(); ) {
                String n = e.nextElement().getName();
                if (!n.endsWith(".class") || n.contains("$") || n.startsWith("META-INF")) {
                    continue;
                }
                String cn = n.substring(0, n.length() - 6).replace('/', '.');
                Class<?> c;
                try {
                    c = Class.forName(cn, false, Golden.class.getClassLoader());
                } catch (Throwable t) {
                    continue; // e.g. the IDL compiler's optional dependencies
                }
                if (Record.class.isAssignableFrom(c)
                        && !c.isInterface()
                        && !Modifier.isAbstract(c.getModifiers())) {
                    names.add(cn);
                }
            }
        }
        for (String n : names) {
            System.out.println(n);
        }
    }

    static void gen(long from, long to, List<String> names) throws Exception {
        StringBuilder out = new StringBuilder();
        for (String name : names) {
            Class<?> c = recordClass(name);
            for (long seed = from; seed < to; seed++) {
                Record r = (Record) sampleRecord(c, new Gen(seed));
                out.append(name).append(' ').append(seed).append(' ')
                        .append(hex(serialize(r))).append('\n');
            }
        }
        System.out.print(out);
    }

    static int check(List<String> lines) {
        int bad = 0;
        for (String line : lines) {
            String[] f = line.split(" ", -1);
            try {
                if (f.length != 3) {
                    throw new IllegalArgumentException("expected `ClassName seed hex`");
                }
                Class<?> c = recordClass(f[0]);
                long seed = Long.parseLong(f[1]);
                byte[] in = unhex(f[2]);
                ByteArrayInputStream bi = new ByteArrayInputStream(in);
                Record r = (Record) c.getConstructor().newInstance();
                r.deserialize(BinaryInputArchive.getArchive(bi), "");
                List<String> problems = new ArrayList<>();
                if (bi.available() != 0) {
                    problems.add(bi.available() + " trailing bytes not consumed");
                }
                byte[] again = serialize(r);
                if (!Arrays.equals(in, again)) {
                    problems.add("re-serialized as " + hex(again));
                }
                Record expected = (Record) sampleRecord(c, new Gen(seed));
                if (!expected.equals(r)) {
                    problems.add("decoded " + r.toString().replace('\n', ' ')
                            + " but Java's sample is " + expected.toString().replace('\n', ' '));
                }
                if (!problems.isEmpty()) {
                    bad++;
                    System.out.println("MISMATCH " + f[0] + " " + f[1] + ": "
                            + String.join("; ", problems));
                }
            } catch (Exception e) {
                bad++;
                System.out.println("MISMATCH " + line + ": " + e);
            }
        }
        System.err.println("checked " + lines.size() + " lines, " + bad + " mismatches");
        return bad;
    }

    static void strings(List<String> lines) throws IOException {
        StringBuilder out = new StringBuilder();
        for (String line : lines) {
            byte[] body = line.equals("-") ? new byte[0] : unhex(line);
            ByteArrayOutputStream framed = new ByteArrayOutputStream();
            BinaryOutputArchive.getArchive(framed).writeBuffer(body, "");
            String s = BinaryInputArchive.getArchive(new ByteArrayInputStream(framed.toByteArray()))
                    .readString("");
            StringBuilder units = new StringBuilder();
            for (int i = 0; i < s.length(); i++) {
                units.append(String.format("%04x", (int) s.charAt(i)));
            }
            ByteArrayOutputStream again = new ByteArrayOutputStream();
            BinaryOutputArchive.getArchive(again).writeString(s, "");
            byte[] a = again.toByteArray();
            String re = hex(Arrays.copyOfRange(a, 4, a.length));
            out.append(units.length() == 0 ? "-" : units).append(' ')
                    .append(re.isEmpty() ? "-" : re).append('\n');
        }
        System.out.print(out);
    }

    public static void main(String[] args) throws Exception {
        if (args.length >= 1 && args[0].equals("list")) {
            list();
        } else if (args.length >= 3 && args[0].equals("gen")) {
            List<String> names = args.length > 3
                    ? Arrays.asList(args).subList(3, args.length)
                    : stdinLines();
            gen(Long.parseLong(args[1]), Long.parseLong(args[2]), names);
        } else if (args.length == 1 && args[0].equals("strings")) {
            strings(stdinLines());
        } else if (args.length == 1 && args[0].equals("check")) {
            System.exit(check(stdinLines()) == 0 ? 0 : 1);
        } else {
            System.err.println("usage: Golden list | gen FROM TO [CLASS...] | check | strings");
            System.exit(2);
        }
    }
}

// Exercises Apache Curator recipes against one ZooKeeper server (Java 3.8 or zk-rs).
//
//   javac -cp CP -d OUT CuratorCompat.java
//   java  -cp OUT:CP CuratorCompat 127.0.0.1:PORT [basePath]
//
// CP: curator-recipes, curator-framework, curator-client, zookeeper, zookeeper-jute, guava,
// slf4j-api (+ slf4j-nop to keep the output clean). Prints one line per check,
// "OK <name>" or "FAIL <name>: <reason>", then "DONE <ok>/<total>"; exits 1 if any check
// failed. Every check runs with its own deadline, so one hang cannot stall the others.

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.transaction.CuratorOp;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.api.transaction.OperationType;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.cache.ChildData;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.data.Stat;

public class CuratorCompat {
    static String connect;
    static String base;
    static int failures = 0;
    static int total = 0;
    static final List<CuratorFramework> clients = Collections.synchronizedList(new ArrayList<>());

    interface Check {
        void run() throws Exception;
    }

    static class CheckFailed extends Exception {
        CheckFailed(String msg) {
            super(msg);
        }
    }

    static void require(boolean cond, String fmt, Object... args) throws CheckFailed {
        if (!cond) {
            throw new CheckFailed(String.format(fmt, args));
        }
    }

    static CuratorFramework newClient() throws Exception {
        CuratorFramework c = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(15000)
                .connectionTimeoutMs(5000)
                .retryPolicy(new ExponentialBackoffRetry(100, 3))
                .build();
        clients.add(c);
        c.start();
        if (!c.blockUntilConnected(10, TimeUnit.SECONDS)) {
            throw new CheckFailed("client did not connect within 10 s");
        }
        return c;
    }

    static void close(CuratorFramework c) {
        try {
            c.close();
        } catch (Exception e) {
            // best effort
        }
        clients.remove(c);
    }

    static void check(String name, int timeoutSeconds, Check body) {
        total++;
        ExecutorService ex = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "check-" + name);
            t.setDaemon(true);
            return t;
        });
        Future<?> f = ex.submit((Callable<Void>) () -> {
            body.run();
            return null;
        });
        String failure = null;
        try {
            f.get(timeoutSeconds, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            failure = "timed out after " + timeoutSeconds + " s";
        } catch (java.util.concurrent.ExecutionException e) {
            Throwable cause = e.getCause();
            failure = cause instanceof CheckFailed ? cause.getMessage() : cause.toString();
        } catch (InterruptedException e) {
            failure = "interrupted";
        } finally {
            ex.shutdownNow();
        }
        if (failure == null) {
            System.out.println("OK " + name);
        } else {
            failures++;
            System.out.println("FAIL " + name + ": " + failure.replace('\n', ' '));
        }
        System.out.flush();
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: CuratorCompat host:port [basePath]");
            System.exit(2);
        }
        connect = args[0];
        base = args.length > 1 ? args[1] : "/curator-compat";

        check("connect", 20, () -> {
            CuratorFramework c = newClient();
            c.create().creatingParentsIfNeeded().forPath(base + "/hello", b("world"));
            require("world".equals(s(c.getData().forPath(base + "/hello"))), "getData mismatch");
            Stat st = c.checkExists().forPath(base);
            require(st != null && st.getNumChildren() == 1, "stat of base: %s", st);
            close(c);
        });

        check("mutex", 40, CuratorCompat::checkMutex);
        check("leader-latch", 40, CuratorCompat::checkLeaderLatch);
        check("curator-cache", 30, CuratorCompat::checkCuratorCache);
        check("distributed-atomic-long", 40, CuratorCompat::checkAtomicLong);
        check("transaction-commit", 20, CuratorCompat::checkTransactionCommit);
        check("transaction-rollback", 20, CuratorCompat::checkTransactionRollback);
        check("ttl-create", 20, CuratorCompat::checkTtl);
        check("protected-ephemeral-sequential", 20, CuratorCompat::checkProtected);
        check("container-parents", 20, CuratorCompat::checkContainerParents);
        check("shared-count", 30, CuratorCompat::checkSharedCount);

        check("cleanup", 20, () -> {
            CuratorFramework c = newClient();
            c.delete().deletingChildrenIfNeeded().forPath(base);
            require(c.checkExists().forPath(base) == null, "base still exists");
            close(c);
        });

        for (CuratorFramework c : new ArrayList<>(clients)) {
            close(c);
        }
        System.out.println("DONE " + (total - failures) + "/" + total);
        System.out.flush();
        System.exit(failures == 0 ? 0 : 1);
    }

    // Two clients (two sessions), two threads each, contend for one InterProcessMutex.
    static void checkMutex() throws Exception {
        String path = base + "/mutex";
        CuratorFramework c1 = newClient();
        CuratorFramework c2 = newClient();
        AtomicInteger holders = new AtomicInteger();
        AtomicInteger maxHolders = new AtomicInteger();
        AtomicInteger acquired = new AtomicInteger();
        AtomicReference<Throwable> error = new AtomicReference<>();
        final int rounds = 8;
        List<Thread> threads = new ArrayList<>();
        for (CuratorFramework c : Arrays.asList(c1, c2, c1, c2)) {
            Thread t = new Thread(() -> {
                InterProcessMutex m = new InterProcessMutex(c, path);
                try {
                    for (int i = 0; i < rounds; i++) {
                        if (!m.acquire(20, TimeUnit.SECONDS)) {
                            throw new CheckFailed("acquire timed out");
                        }
                        try {
                            int h = holders.incrementAndGet();
                            maxHolders.accumulateAndGet(h, Math::max);
                            acquired.incrementAndGet();
                            Thread.sleep(5);
                            holders.decrementAndGet();
                        } finally {
                            m.release();
                        }
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join(30000);
        }
        require(error.get() == null, "worker failed: %s", error.get());
        require(maxHolders.get() == 1, "%d holders at once", maxHolders.get());
        require(acquired.get() == 4 * rounds, "acquired %d times, expected %d", acquired.get(),
                4 * rounds);

        // While one session holds the lock, the other cannot get it; after release it can.
        InterProcessMutex m1 = new InterProcessMutex(c1, path);
        InterProcessMutex m2 = new InterProcessMutex(c2, path);
        require(m1.acquire(5, TimeUnit.SECONDS), "c1 could not acquire a free lock");
        require(m1.isAcquiredInThisProcess(), "isAcquiredInThisProcess false");
        require(!m2.acquire(300, TimeUnit.MILLISECONDS), "c2 acquired a held lock");
        require(c1.getChildren().forPath(path).size() == 1, "lock nodes left: %s",
                c1.getChildren().forPath(path));
        m1.release();
        require(m2.acquire(5, TimeUnit.SECONDS), "c2 could not acquire after release");
        // A session that dies releases its lock (the ephemeral lock node goes away).
        close(c2);
        require(m1.acquire(10, TimeUnit.SECONDS), "lock not freed by closing c2's session");
        m1.release();
        close(c1);
    }

    // Two LeaderLatch participants: exactly one leader; closing it moves leadership.
    static void checkLeaderLatch() throws Exception {
        String path = base + "/leader";
        CuratorFramework c1 = newClient();
        CuratorFramework c2 = newClient();
        LeaderLatch l1 = new LeaderLatch(c1, path, "p1");
        LeaderLatch l2 = new LeaderLatch(c2, path, "p2");
        l1.start();
        l2.start();
        long deadline = System.currentTimeMillis() + 15000;
        while (!(l1.hasLeadership() || l2.hasLeadership())
                && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        Thread.sleep(200); // let both settle
        require(l1.hasLeadership() ^ l2.hasLeadership(), "leaders: p1=%s p2=%s",
                l1.hasLeadership(), l2.hasLeadership());
        LeaderLatch leader = l1.hasLeadership() ? l1 : l2;
        LeaderLatch other = leader == l1 ? l2 : l1;
        require(leader.getLeader().getId().equals(leader.getId()), "getLeader() = %s",
                leader.getLeader().getId());
        require(other.getLeader().getId().equals(leader.getId()), "other sees leader %s",
                other.getLeader().getId());
        require(other.getParticipants().size() == 2, "participants: %s",
                other.getParticipants());
        leader.close();
        require(other.await(10, TimeUnit.SECONDS), "leadership did not move to %s",
                other.getId());
        require(other.getParticipants().size() == 1, "participants after close: %s",
                other.getParticipants());
        other.close();
        close(c1);
        close(c2);
    }

    // CuratorCache (persistent recursive watch) sees create / change / delete.
    static void checkCuratorCache() throws Exception {
        String path = base + "/cache";
        CuratorFramework c = newClient();
        CuratorFramework writer = newClient();
        c.create().creatingParentsIfNeeded().forPath(path, b("root"));
        c.create().forPath(path + "/pre", b("p"));
        BlockingQueue<String> events = new LinkedBlockingQueue<>();
        CountDownLatch initialized = new CountDownLatch(1);
        CuratorCache cache = CuratorCache.build(c, path);
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreates(n -> events.add("created " + n.getPath() + " " + s(n.getData())))
                .forChanges((o, n) -> events.add("changed " + n.getPath() + " " + s(o.getData())
                        + "->" + s(n.getData())))
                .forDeletes(o -> events.add("deleted " + o.getPath()))
                .forInitialized(initialized::countDown)
                .build());
        cache.start();
        require(initialized.await(10, TimeUnit.SECONDS), "cache not initialized");
        List<String> initial = new ArrayList<>();
        events.drainTo(initial);
        Collections.sort(initial);
        require(initial.equals(Arrays.asList("created " + path + " root",
                        "created " + path + "/pre p")), "initial events: %s", initial);
        // One write at a time, each awaited: the cache reads the data after the event, so
        // back-to-back writes would legitimately merge into fewer events.
        List<String> got = new ArrayList<>();
        Object[][] steps = {
            {(Check) () -> writer.create().forPath(path + "/a", b("1")), "created " + path + "/a 1"},
            {(Check) () -> writer.setData().forPath(path + "/a", b("2")), "changed " + path + "/a 1->2"},
            {(Check) () -> writer.create().forPath(path + "/a/b", b("x")), "created " + path + "/a/b x"},
            {(Check) () -> writer.setData().forPath(path + "/a/b", b("y")), "changed " + path + "/a/b x->y"},
            {(Check) () -> writer.delete().forPath(path + "/a/b"), "deleted " + path + "/a/b"},
            {(Check) () -> writer.delete().forPath(path + "/a"), "deleted " + path + "/a"},
        };
        for (Object[] step : steps) {
            ((Check) step[0]).run();
            String e = events.poll(5, TimeUnit.SECONDS);
            got.add(e == null ? "(none)" : e);
            require(step[1].equals(e), "events %s, expected last to be %s", got, step[1]);
        }
        String extra = events.poll(100, TimeUnit.MILLISECONDS);
        require(extra == null, "unexpected event %s", extra);
        ChildData pre = cache.get(path + "/pre").orElse(null);
        require(pre != null && "p".equals(s(pre.getData())), "cache.get(pre) = %s", pre);
        require(!cache.get(path + "/a").isPresent(), "deleted node still cached");
        cache.close();
        close(writer);
        close(c);
    }

    // DistributedAtomicLong: optimistic increments from two clients sum correctly.
    static void checkAtomicLong() throws Exception {
        String path = base + "/counter";
        CuratorFramework c1 = newClient();
        CuratorFramework c2 = newClient();
        final int perThread = 20;
        AtomicReference<Throwable> error = new AtomicReference<>();
        List<Thread> threads = new ArrayList<>();
        for (CuratorFramework c : Arrays.asList(c1, c2, c1, c2)) {
            Thread t = new Thread(() -> {
                DistributedAtomicLong counter =
                        new DistributedAtomicLong(c, path, new RetryNTimes(1000, 1));
                try {
                    for (int i = 0; i < perThread; i++) {
                        AtomicValue<Long> v = counter.increment();
                        if (!v.succeeded()) {
                            throw new CheckFailed("increment did not succeed");
                        }
                        if (v.postValue() != v.preValue() + 1) {
                            throw new CheckFailed("pre " + v.preValue() + " post " + v.postValue());
                        }
                    }
                } catch (Throwable e) {
                    error.compareAndSet(null, e);
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join(30000);
        }
        require(error.get() == null, "worker failed: %s", error.get());
        AtomicValue<Long> v = new DistributedAtomicLong(c1, path, new RetryNTimes(3, 10)).get();
        require(v.succeeded() && v.postValue() == 4 * perThread, "final value %s, expected %d",
                v.postValue(), 4 * perThread);
        AtomicValue<Long> add = new DistributedAtomicLong(c2, path, new RetryNTimes(3, 10))
                .add(100L);
        require(add.succeeded() && add.postValue() == 4 * perThread + 100, "add: %s",
                add.postValue());
        close(c1);
        close(c2);
    }

    // A transaction of create + setData + delete commits atomically.
    static void checkTransactionCommit() throws Exception {
        String path = base + "/txn";
        CuratorFramework c = newClient();
        c.create().creatingParentsIfNeeded().forPath(path);
        c.create().forPath(path + "/old", b("old"));
        CuratorOp create = c.transactionOp().create().forPath(path + "/new", b("v1"));
        CuratorOp set = c.transactionOp().setData().withVersion(0).forPath(path + "/new", b("v2"));
        CuratorOp check = c.transactionOp().check().withVersion(0).forPath(path + "/old");
        CuratorOp delete = c.transactionOp().delete().forPath(path + "/old");
        CuratorOp seq = c.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL)
                .forPath(path + "/seq-", b("s"));
        List<CuratorTransactionResult> results =
                c.transaction().forOperations(create, set, check, delete, seq);
        require(results.size() == 5, "results: %s", results);
        require(results.get(0).getType() == OperationType.CREATE
                && results.get(0).getResultPath().equals(path + "/new"),
                "create result %s", results.get(0).getResultPath());
        require(results.get(1).getType() == OperationType.SET_DATA
                && results.get(1).getResultStat() != null
                && results.get(1).getResultStat().getVersion() == 1,
                "setData result stat %s", results.get(1).getResultStat());
        require(results.get(3).getType() == OperationType.DELETE, "delete result");
        String seqPath = results.get(4).getResultPath();
        require(seqPath.matches(java.util.regex.Pattern.quote(path) + "/seq-\\d{10}"),
                "sequential result path %s", seqPath);
        require("v2".equals(s(c.getData().forPath(path + "/new"))), "data of new");
        require(c.checkExists().forPath(path + "/old") == null, "old still exists");
        require(c.checkExists().forPath(seqPath) != null, "seq node missing");
        close(c);
    }

    // A transaction whose last op fails leaves nothing behind.
    static void checkTransactionRollback() throws Exception {
        String path = base + "/txn2";
        CuratorFramework c = newClient();
        c.create().creatingParentsIfNeeded().forPath(path);
        c.create().forPath(path + "/exists", b("e"));
        CuratorOp a = c.transactionOp().create().forPath(path + "/a", b("a"));
        CuratorOp set = c.transactionOp().setData().forPath(path + "/exists", b("changed"));
        CuratorOp del = c.transactionOp().delete().forPath(path + "/exists");
        CuratorOp dup = c.transactionOp().create().forPath(path + "/a", b("again"));
        try {
            c.transaction().forOperations(a, set, del, dup);
            throw new CheckFailed("transaction with a duplicate create committed");
        } catch (KeeperException.NodeExistsException e) {
            // Ops before the failing one report OK (0), the failing one its error.
            require(errs(e).equals(Arrays.asList(0, 0, 0, -110)), "op results %s", errs(e));
        }
        require(c.checkExists().forPath(path + "/a") == null, "a was created");
        require("e".equals(s(c.getData().forPath(path + "/exists"))), "exists was changed");
        Stat st = c.checkExists().forPath(path + "/exists");
        require(st.getVersion() == 0, "version of exists %d", st.getVersion());
        // A version check failing in the middle.
        CuratorOp b1 = c.transactionOp().create().forPath(path + "/b", b("b"));
        CuratorOp badCheck = c.transactionOp().check().withVersion(7).forPath(path + "/exists");
        try {
            c.transaction().forOperations(b1, badCheck);
            throw new CheckFailed("transaction with a bad version check committed");
        } catch (KeeperException.BadVersionException e) {
            require(errs(e).equals(Arrays.asList(0, -103)), "op results %s", errs(e));
        }
        require(c.checkExists().forPath(path + "/b") == null, "b was created");
        require(c.getChildren().forPath(path).equals(Collections.singletonList("exists")),
                "children %s", c.getChildren().forPath(path));
        close(c);
    }

    static List<Integer> errs(KeeperException e) {
        List<Integer> out = new ArrayList<>();
        if (e.getResults() != null) {
            for (org.apache.zookeeper.OpResult r : e.getResults()) {
                out.add(r instanceof org.apache.zookeeper.OpResult.ErrorResult
                        ? ((org.apache.zookeeper.OpResult.ErrorResult) r).getErr() : 999);
            }
        }
        return out;
    }

    // CreateMode.PERSISTENT_WITH_TTL (needs extendedTypesEnabled on the server).
    static void checkTtl() throws Exception {
        String path = base + "/ttl";
        CuratorFramework c = newClient();
        c.create().creatingParentsIfNeeded().forPath(path);
        Stat created = new Stat();
        String p = c.create().withTtl(60000).storingStatIn(created)
                .withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(path + "/t", b("ttl"));
        require(p.equals(path + "/t"), "path %s", p);
        Stat st = c.checkExists().forPath(path + "/t");
        require(st != null, "ttl node missing");
        // Clients see ephemeralOwner 0 for TTL nodes (the TTL is kept server-side only).
        require(st.getEphemeralOwner() == 0, "ephemeralOwner %x", st.getEphemeralOwner());
        require(created.getCzxid() == st.getCzxid(), "create stat czxid %x vs %x",
                created.getCzxid(), st.getCzxid());
        require("ttl".equals(s(c.getData().forPath(path + "/t"))), "data");
        String sp = c.create().withTtl(60000).withMode(CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL)
                .forPath(path + "/s-", b("x"));
        require(sp.matches(java.util.regex.Pattern.quote(path) + "/s-\\d{10}"), "seq path %s", sp);
        try {
            c.create().withTtl(0).withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(path + "/zero");
            throw new CheckFailed("ttl 0 accepted");
        } catch (IllegalArgumentException | KeeperException.BadArgumentsException e) {
            // the client rejects it (CreateMode checks), or the server does
        }
        close(c);
    }

    // creatingParentsIfNeeded().withProtection() + EPHEMERAL_SEQUENTIAL.
    static void checkProtected() throws Exception {
        String parent = base + "/prot/deep";
        CuratorFramework c = newClient();
        String p = c.create().creatingParentsIfNeeded().withProtection()
                .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(parent + "/node-", b("data"));
        String name = p.substring(p.lastIndexOf('/') + 1);
        require(p.startsWith(parent + "/"), "path %s", p);
        require(name.matches("_c_[0-9a-f-]{36}-node-\\d{10}"), "protected name %s", name);
        Stat st = c.checkExists().forPath(p);
        long session = c.getZookeeperClient().getZooKeeper().getSessionId();
        require(st != null && st.getEphemeralOwner() == session, "ephemeralOwner %x, session %x",
                st == null ? 0 : st.getEphemeralOwner(), session);
        require(c.getChildren().forPath(parent).equals(Collections.singletonList(name)),
                "children %s", c.getChildren().forPath(parent));
        require(c.checkExists().forPath(base + "/prot").getEphemeralOwner() == 0,
                "parents must be persistent");
        String p2 = c.create().creatingParentsIfNeeded().withProtection()
                .withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(parent + "/node-", b("data"));
        require(!p2.equals(p) && Long.parseLong(p2.substring(p2.length() - 10))
                        == Long.parseLong(p.substring(p.length() - 10)) + 1,
                "second protected node %s after %s", p2, p);
        close(c);
        CuratorFramework c2 = newClient();
        require(c2.getChildren().forPath(parent).isEmpty(), "ephemerals survived their session: %s",
                c2.getChildren().forPath(parent));
        close(c2);
    }

    // creatingParentContainersIfNeeded(): parents are containers (seen as ephemeralOwner 0).
    static void checkContainerParents() throws Exception {
        String path = base + "/containers/a/b";
        CuratorFramework c = newClient();
        c.create().creatingParentContainersIfNeeded().forPath(path + "/leaf", b("x"));
        Stat st = c.checkExists().forPath(path);
        require(st != null && st.getEphemeralOwner() == 0, "container stat %s", st);
        c.delete().forPath(path + "/leaf");
        require(c.checkExists().forPath(path) != null, "container vanished at once");
        close(c);
    }

    // SharedCount: versioned set with trySetCount, listener sees the other client's change.
    static void checkSharedCount() throws Exception {
        String path = base + "/shared";
        CuratorFramework c1 = newClient();
        CuratorFramework c2 = newClient();
        SharedCount s1 = new SharedCount(c1, path, 5);
        SharedCount s2 = new SharedCount(c2, path, 99);
        s1.start();
        s2.start();
        require(s1.getCount() == 5 && s2.getCount() == 5, "initial %d %d", s1.getCount(),
                s2.getCount());
        VersionedValue<Integer> before = s1.getVersionedValue();
        require(s1.trySetCount(before, 6), "trySetCount with fresh version");
        long deadline = System.currentTimeMillis() + 10000;
        while (s2.getCount() != 6 && System.currentTimeMillis() < deadline) {
            Thread.sleep(20);
        }
        require(s2.getCount() == 6, "s2 sees %d", s2.getCount());
        require(!s2.trySetCount(before, 7), "trySetCount with a stale version succeeded");
        require(s1.getCount() == 6, "count after stale set %d", s1.getCount());
        s1.close();
        s2.close();
        close(c1);
        close(c2);
    }
}

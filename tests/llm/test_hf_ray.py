"""Inside a Ray actor the hf backend counts the CPUs Ray gave the actor, not the machine's."""


def test_threads_follow_the_actor_cpus(ray_local, tiny_path):
    import os

    from factory.llm.hf import worker_cpus

    ray = ray_local
    assert worker_cpus() == len(os.sched_getaffinity(0))  # the driver has no Ray assignment: no crash either

    @ray.remote(num_cpus=1)
    class Worker:
        def __init__(self, path):
            from factory.llm import make_llm

            self.llm = make_llm({"backend": "hf", "batch_size": 2, "device": "cpu"},
                                {"source": "local", "path": path})

        def run(self):
            import torch

            from factory.llm.base import Sampling
            from factory.llm.hf import worker_cpus

            replies = self.llm.generate([[{"role": "user", "content": "hi"}]] * 3, Sampling(n=2, max_tokens=4))
            return worker_cpus(), torch.get_num_threads(), [len(r) for r in replies]

    worker = Worker.remote(tiny_path)
    cpus, threads, counts = ray.get(worker.run.remote(), timeout=240)
    assert cpus == 1 and threads == 1  # Ray's assignment, not the machine's CPUs
    assert counts == [2, 2, 2]
    ray.kill(worker)

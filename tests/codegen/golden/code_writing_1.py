"""code-writing: a workflow exported by evoforum.

Run it on an input:  python this_file.py "your input"

Prompts, constants and helper functions may be edited; evoforum.codegen.parse reads the
module back into a genome (see METADATA for the name, notes and origin).
"""

# -- code: helper functions and tools --------------------------------------------------
import ast
import doctest
import re

from evoforum.codegen import run_script
from evoforum.flow import Depends, StateMachine, Transition, providers, task
from evoforum.genome import Compare, LLMAgent
from evoforum.genome.runnable import ask


def extract_code(text: str) -> str:
    """The first fenced code block of a reply, or the whole reply."""
    match = re.search(r"```(?:python)?\n(.*?)```", text, re.DOTALL)
    return (match.group(1) if match else text).strip() + "\n"


def check_code(problem: str, code: str) -> dict:
    """Run the code, then the examples in the problem's docstring against it."""
    namespace: dict = {}
    try:
        exec(compile(code, "<candidate>", "exec"), namespace)
    except Exception as error:
        report = f"{type(error).__name__}: {error}"
        return {"passed": False, "report": report, "code": code}
    try:
        tree = ast.parse(problem)
        functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
        examples = "\n".join(ast.get_docstring(f) or "" for f in functions)
    except SyntaxError:
        examples = problem
    test = doctest.DocTestParser().get_doctest(examples, namespace, "problem", None, 0)
    lines: list[str] = []
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    result = runner.run(test, out=lines.append)
    report = "".join(lines)[-2000:] or "all examples pass"
    return {"passed": result.failed == 0, "report": report, "code": code}


def final_code(report: dict) -> str:
    """The code a test report was made for."""
    return report["code"]


# -- workflow --------------------------------------------------------------------------
METADATA = {
    "name": "code-writing",
    "notes": "",
    "origin": {"space": "code_writing", "seed_genome": 1},
}
INPUTS = ("problem",)

writer = LLMAgent(
    name="writer",
    model="qwen2.5-coder-0.5b-instruct",
    system_prompt="You are a careful Python programmer. Answer with one fenced Python code block and nothing else.",
    prompt="Complete this Python function:\n\n{problem}\n\nFollow this plan:\n{plan}",
    temperature=0.2,
)
fixer = LLMAgent(
    name="fixer",
    model="qwen2.5-coder-0.5b-instruct",
    system_prompt="You are a careful Python programmer. Answer with one fenced Python code block and nothing else.",
    prompt=(
        "This code for the problem below fails its examples.\n"
        "\n"
        "Problem:\n"
        "{problem}\n"
        "\n"
        "Code:\n"
        "{code}\n"
        "\n"
        "Test report:\n"
        "{report}\n"
        "\n"
        "Write the corrected function."
    ),
    temperature=0.2,
)
extractor = extract_code
checker = check_code
picker = final_code
planner = LLMAgent(
    name="planner",
    model="qwen2.5-coder-0.5b-instruct",
    system_prompt="You are a careful Python programmer. Answer with one fenced Python code block and nothing else.",
    prompt="Explain in a few short steps how to solve this problem:\n\n{problem}",
    temperature=0.2,
)


@task(output="plan")
async def outline(problem, llm=Depends(providers.llm)):
    return await ask(llm, planner, problem=problem)


@task
async def draft(problem, plan, llm=Depends(providers.llm)):
    return await ask(llm, writer, problem=problem, plan=plan)


@task(output="code")
def extract_draft(draft):
    return extractor(text=draft)


@task(executor="process", output="report")
def check(problem, code):
    return checker(problem=problem, code=code)


@task
async def repair(problem, code, report, llm=Depends(providers.llm)):
    return await ask(llm, fixer, problem=problem, code=code, report=report)


@task(output="code")
def extract_fix(repair):
    return extractor(text=repair)


@task
def answer(report):
    return picker(report=report)


workflow = StateMachine(
    states={
        "plan": outline,
        "solve": StateMachine(
            states={
                "write": draft >> extract_draft,
                "test": check,
                "fix": repair >> extract_fix,
                "done": answer,
            },
            transitions=[
                Transition("write", "test"),
                Transition(
                    "test",
                    "done",
                    when=Compare(field="passed", op="==", value=True),
                ),
                Transition("test", "fix"),
                Transition("fix", "test"),
            ],
            initial="write",
            max_steps=8,
        ),
    },
    transitions=[
        Transition("plan", "solve"),
    ],
    initial="plan",
    max_steps=3,
)


if __name__ == "__main__":
    run_script(workflow, INPUTS)

from flask import Flask, request, jsonify

app = Flask(__name__)


@app.route('/')
def index():
    return 'flask index'


@app.route('/hello/<name>')
def hello(name):
    return jsonify(greeting='hello ' + name, script_root=request.script_root,
                   path=request.path, args=request.args.to_dict())


@app.route('/form', methods=['POST'])
def form():
    return jsonify(fields=request.form.to_dict(), method=request.method)

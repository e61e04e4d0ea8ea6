def do_prediction(model, data, test_data_size=500):
    test_xs, test_ys = data.test(test_data_size)
    labels = test_ys.argmax(axis=-1)
    predictions = model.predict(test_xs).argmax(axis=-1)
    return predictions, labels


def show_accuracy(model, data):
    predictions, labels = do_prediction(model, data)
    show.per_class_accuracy(labels, predictions)


def show_confusion(model, data):
    predictions, labels = do_prediction(model, data)
    show.confusion(labels, predictions)


show_accuracy(model, data)
show_confusion(model, data)

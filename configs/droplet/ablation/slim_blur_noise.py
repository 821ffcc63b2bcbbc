_base_ = './slim_stock.py'
train_dataloader = dict(
    dataset=dict(pipeline=[
        *_base_.train_pipeline[:2], _base_.blur, _base_.noise,
        *_base_.train_pipeline[2:]
    ]))
